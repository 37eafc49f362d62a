import { hostname } from 'node:os';
import pg from 'pg';
import type { RunCoordinator } from 'node-cron';
import type { Logger } from '../logger.ts';
import type { Secret } from '../secret.ts';
import { RepositoryError, errorMessage } from '../errors.ts';

/**
 * Several `firedrill serve` replicas with the same config, coordinated
 * through one PostgreSQL database, for node-cron's distributed mode.
 *
 * - Exactly once per fire: every replica's task fires at the same slot and
 *   asks `shouldRun(key)` (the key is the task's name and the slot's time).
 *   The first replica to insert the key into `firedrill_scheduled_fires`
 *   runs it; the others see the row and skip. The row stays, so a replica
 *   whose clock or random delay makes it late cannot run the fire again.
 * - Never the same drill on two replicas at once: the replica that runs a
 *   drill holds a session-level advisory lock on it, on a connection of its
 *   own, until the run ends. A fire that finds the drill locked is skipped
 *   fleet-wide (the next one runs), like node-cron's `noOverlap` within one
 *   process. On-demand runs take the same lock.
 * - A replica that dies mid-run blocks nothing: its connection closes, and
 *   PostgreSQL drops its advisory locks with the session. Claims of past
 *   fires are all that is left, and they are pruned after a week.
 */

/** First key of the two-int advisory lock: firedrill's locks never meet an application's single-bigint locks on the same database. */
const LOCK_NAMESPACE = 0x46524452; // "FRDR"
const CLAIMS_KEPT_DAYS = 7;
/** node-cron task names: the drill comes back out of a fire's key (`firedrill/<drill>:<slot ISO time>`). */
export const TASK_NAME_PREFIX = 'firedrill/';

export type DrillLock = () => Promise<void>;

export class PostgresRunCoordinator implements RunCoordinator {
  readonly #pool: pg.Pool;
  readonly #logger: Logger;
  readonly #replica = `${hostname()}/${process.pid}`;
  /** The drill lock of each fire this replica runs, released by `onComplete`. */
  readonly #held = new Map<string, DrillLock>();

  constructor(url: Secret, logger: Logger, options: { maxConnections: number }) {
    this.#logger = logger;
    this.#pool = new pg.Pool({ connectionString: url.reveal(), max: options.maxConnections, application_name: 'firedrill-coordinator' });
    // An idle pooled connection that breaks is replaced on next use; a run's lock connection that breaks has lost its lock.
    this.#pool.on('error', (error) => logger.warn({ err: errorMessage(error) }, 'a coordination database connection failed'));
  }

  /** Creates the claims table if needed and prunes old claims; fails loudly when the database cannot be reached. */
  async start(): Promise<void> {
    try {
      await this.#pool.query(
        'create table if not exists firedrill_scheduled_fires (fire_key text primary key, drill text not null, claimed_by text not null, claimed_at timestamptz not null default now())',
      );
      await this.#pool.query(`delete from firedrill_scheduled_fires where claimed_at < now() - interval '${CLAIMS_KEPT_DAYS} days'`);
    } catch (error) {
      throw new RepositoryError(
        `cannot use the coordination database (coordination.postgres): ${errorMessage(error)}; check the URL, that the server accepts connections from here, and that the user may create a table`,
        { cause: error },
      );
    }
  }

  async shouldRun(key: string): Promise<boolean> {
    const drill = drillOfKey(key);
    const unlock = await this.tryLockDrill(drill);
    if (!unlock) {
      this.#logger.info({ drill, fire: key }, 'fire skipped: the drill is still running on another replica');
      return false;
    }
    try {
      const claimed = await this.#pool.query(
        'insert into firedrill_scheduled_fires (fire_key, drill, claimed_by) values ($1, $2, $3) on conflict (fire_key) do nothing',
        [key, drill, this.#replica],
      );
      if (claimed.rowCount === 1) {
        this.#held.set(key, unlock);
        return true;
      }
    } catch (error) {
      await unlock();
      throw error;
    }
    await unlock();
    this.#logger.debug({ drill, fire: key }, 'fire skipped: another replica runs it');
    return false;
  }

  async onComplete(key: string): Promise<void> {
    const unlock = this.#held.get(key);
    this.#held.delete(key);
    await unlock?.();
  }

  /** The drill's advisory lock on a connection of its own, or undefined when another session holds it. */
  async tryLockDrill(drill: string): Promise<DrillLock | undefined> {
    const client = await this.#pool.connect();
    let locked = false;
    try {
      const result = await client.query<{ locked: boolean }>('select pg_try_advisory_lock($1, hashtext($2)) as locked', [LOCK_NAMESPACE, drill]);
      locked = result.rows[0]?.locked === true;
    } finally {
      if (!locked) client.release();
    }
    if (!locked) return undefined;
    // A held connection that breaks (the database restarted) must not take the service down: the lock is gone with the session, and said so.
    let broken: Error | undefined;
    const onError = (error: Error) => {
      broken = error;
      this.#logger.warn({ drill, err: errorMessage(error) }, 'lost the coordination connection of a running drill: another replica may start it before this run ends');
    };
    client.on('error', onError);
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      try {
        if (!broken) await client.query('select pg_advisory_unlock($1, hashtext($2))', [LOCK_NAMESPACE, drill]);
      } catch (error) {
        broken = error as Error;
      } finally {
        client.off('error', onError);
        // A broken connection is dropped, never handed out again.
        client.release(broken);
      }
    };
  }

  async close(): Promise<void> {
    for (const unlock of this.#held.values()) await unlock();
    this.#held.clear();
    await this.#pool.end();
  }
}

function drillOfKey(key: string): string {
  const name = key.slice(0, key.indexOf(':'));
  return name.startsWith(TASK_NAME_PREFIX) ? name.slice(TASK_NAME_PREFIX.length) : name;
}
