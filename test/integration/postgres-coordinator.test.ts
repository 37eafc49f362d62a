import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startSourceDatabase } from '../support/source-database.ts';
import { PostgresRunCoordinator, TASK_NAME_PREFIX } from '../../src/scheduler/postgres-coordinator.ts';
import { Secret } from '../../src/secret.ts';
import { createLogger } from '../../src/logger.ts';

/**
 * The run coordinator against a real PostgreSQL server: replicas are
 * coordinators of their own (own pools, own sessions) on one database.
 */

let source: Awaited<ReturnType<typeof startSourceDatabase>>;
let url: Secret;
const coordinators: PostgresRunCoordinator[] = [];
const logger = createLogger({ level: 'silent' });

beforeAll(async () => {
  source = await startSourceDatabase({ seed: { customers: 10, products: 10, orders: 10 } });
  const withPassword = new URL(source.url);
  withPassword.password = source.password.reveal();
  url = Secret.fromValue(withPassword.href, 'test');
});
afterEach(async () => {
  for (const coordinator of coordinators.splice(0)) await coordinator.close();
});
afterAll(async () => {
  await source?.stop();
});

async function replica(): Promise<PostgresRunCoordinator> {
  const coordinator = new PostgresRunCoordinator(url, logger, { maxConnections: 4 });
  coordinators.push(coordinator);
  await coordinator.start();
  return coordinator;
}

const fire = (drill: string, slot: string) => `${TASK_NAME_PREFIX}${drill}:${slot}`;

describe('PostgresRunCoordinator', () => {
  it('elects exactly one replica per fire, even after the winner has finished', async () => {
    const [a, b, c] = [await replica(), await replica(), await replica()];
    const key = fire('orders', '2026-11-26T03:00:00.000Z');

    const votes = await Promise.all([a.shouldRun(key), b.shouldRun(key), c.shouldRun(key)]);
    expect(votes.filter(Boolean)).toHaveLength(1);
    const winner = [a, b, c][votes.indexOf(true)] as PostgresRunCoordinator;
    await winner.onComplete(key);

    // A late replica (a slow clock, a long random delay) finds the fire taken.
    expect(await c.shouldRun(key)).toBe(false);
    expect(await a.shouldRun(fire('orders', '2026-11-26T04:00:00.000Z'))).toBe(true);
  });

  it('never runs a drill on two replicas at once: a fire that finds it running elsewhere is skipped', async () => {
    const [a, b] = [await replica(), await replica()];
    expect(await a.shouldRun(fire('orders', '2026-11-26T05:00:00.000Z'))).toBe(true);

    expect(await b.shouldRun(fire('orders', '2026-11-26T05:00:05.000Z'))).toBe(false);
    expect(await b.tryLockDrill('orders')).toBeUndefined();
    // Other drills are not held up.
    const unlock = await b.tryLockDrill('customers');
    expect(unlock).toBeDefined();
    await unlock?.();

    await a.onComplete(fire('orders', '2026-11-26T05:00:00.000Z'));
    expect(await b.shouldRun(fire('orders', '2026-11-26T05:00:10.000Z'))).toBe(true);
  });

  it('frees the drill of a replica that died mid-run: its session ends and the next fire runs elsewhere', async () => {
    const [a, b] = [await replica(), await replica()];
    expect(await a.shouldRun(fire('orders', '2026-11-26T06:00:00.000Z'))).toBe(true);
    expect(await b.tryLockDrill('orders')).toBeUndefined();

    // The replica's process dies: the server ends its sessions (here: they are terminated).
    const admin = new pg.Client({ connectionString: url.reveal() });
    await admin.connect();
    try {
      await admin.query("select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'firedrill-coordinator' and pid <> pg_backend_pid() and pid in (select pid from pg_locks where locktype = 'advisory')");
    } finally {
      await admin.end();
    }

    expect(await b.shouldRun(fire('orders', '2026-11-26T06:00:04.000Z'))).toBe(true);
    await b.onComplete(fire('orders', '2026-11-26T06:00:04.000Z'));
  });

  it('says what to check when the coordination database cannot be reached', async () => {
    const unreachable = new PostgresRunCoordinator(Secret.fromValue('postgres://firedrill:canary-coordination-pw@127.0.0.1:1/none', 'test'), logger, { maxConnections: 1 });
    coordinators.push(unreachable);

    const failure = await unreachable.start().then(
      () => undefined,
      (error: unknown) => error as Error,
    );

    expect(failure?.message).toMatch(/^cannot use the coordination database \(coordination\.postgres\): .*ECONNREFUSED.*; check the URL/);
    expect(failure?.message).not.toContain('canary-coordination-pw');
  });
});
