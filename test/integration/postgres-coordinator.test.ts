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
  const coordinator = new PostgresRunCoordinator(url, logger);
  coordinators.push(coordinator);
  await coordinator.start();
  return coordinator;
}

const fire = (drill: string, slot: string) => `${TASK_NAME_PREFIX}${drill}:${slot}`;

describe('PostgresRunCoordinator', () => {
  it('elects exactly one replica per fire, even a replica that asks after the winner has finished', async () => {
    const [a, b, c] = [await replica(), await replica(), await replica()];
    const key = fire('orders', '2026-11-26T03:00:00.000Z');

    const votes = await Promise.all([a.shouldRun(key), b.shouldRun(key), c.shouldRun(key)]);
    expect(votes.filter(Boolean)).toHaveLength(1);

    // A late replica (a slow clock) finds the fire taken; the next fire is a new one.
    expect(await c.shouldRun(key)).toBe(false);
    expect(await a.shouldRun(fire('orders', '2026-11-26T04:00:00.000Z'))).toBe(true);
  });

  it('lets one replica at a time hold a drill, and only that drill', async () => {
    const [a, b] = [await replica(), await replica()];
    const unlockA = await a.tryLockDrill('orders');
    expect(unlockA).toBeDefined();

    expect(await b.tryLockDrill('orders')).toBeUndefined();
    const unlockOther = await b.tryLockDrill('customers');
    expect(unlockOther).toBeDefined();
    await unlockOther?.();

    await unlockA?.();
    const unlockB = await b.tryLockDrill('orders');
    expect(unlockB).toBeDefined();
    await unlockB?.();
  });

  it('frees the drill of a replica that died mid-run: its session ends, and another replica can take it', async () => {
    const [a, b] = [await replica(), await replica()];
    const unlockA = await a.tryLockDrill('orders');
    expect(unlockA).toBeDefined();
    expect(await b.tryLockDrill('orders')).toBeUndefined();

    // The replica's process dies: the server ends its sessions (here: they are terminated).
    const admin = new pg.Client({ connectionString: url.reveal() });
    await admin.connect();
    try {
      await admin.query("select pg_terminate_backend(pid) from pg_locks where locktype = 'advisory' and pid <> pg_backend_pid()");
    } finally {
      await admin.end();
    }

    const unlockB = await b.tryLockDrill('orders');
    expect(unlockB).toBeDefined();
    await unlockB?.();
    // The dead session's release is harmless: nothing to unlock, no error.
    await unlockA?.();
  });

  it('says what to check when the coordination database cannot be reached', async () => {
    const unreachable = new PostgresRunCoordinator(Secret.fromValue('postgres://firedrill:canary-coordination-pw@127.0.0.1:1/none', 'test'), logger);
    coordinators.push(unreachable);

    const failure = await unreachable.start().then(
      () => undefined,
      (error: unknown) => error as Error,
    );

    expect(failure?.message).toMatch(/^cannot use the coordination database \(coordination\.postgres\): .*ECONNREFUSED.*; check the URL/);
    expect(failure?.message).not.toContain('canary-coordination-pw');
  });
});
