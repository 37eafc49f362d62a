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
 *   asks `shouldRun(key)` (the key is the task's name and the slot's UTC
 *   time). The first replica to insert the key into
 *   `firedrill_scheduled_fires` runs it; the others see the row and skip. The
 *   row stays, so a replica whose clock makes it late cannot run the fire
 *   again.
 * - Never the same drill on two replicas at once: the scheduler holds a
 *   session-level advisory lock on a drill from the moment it queues a run
 *   until the run ends (`tryLockDrill`), each on a connection of its own,
 *   so held locks never starve the pool that claims fires.
 * - A replica that dies mid-run blocks nothing: its connections close, and
 *   PostgreSQL drops its advisory locks with the sessions (TCP keepalive
 *   finds a silently vanished host). Claims of past fires are all that is
 *   left, and they are pruned after a week.
 */

/** First key of the two-int advisory lock: firedrill's locks never meet an application's single-bigint locks on the same database. */
const LOCK_NAMESPACE = 0x46524452; // "FRDR"
const CLAIMS_KEPT_DAYS = 7;
const PRUNE_EVERY_MS = 3600_000;
/** A coordination database that does not answer within this skips the fire (fail closed) rather than hanging the scheduler. */
const CONNECT_TIMEOUT_MS = 10_000;
/** node-cron task names: the drill comes back out of a fire's key (`firedrill/<drill>:<slot ISO time>`). */
export const TASK_NAME_PREFIX = 'firedrill/';

export type DrillLock = () => Promise<void>;

export class CoordinationError extends RepositoryError {}

export class PostgresRunCoordinator implements RunCoordinator {
  readonly #connection: pg.ClientConfig;
  readonly #pool: pg.Pool;
  readonly #logger: Logger;
  readonly #replica = `${hostname()}/${process.pid}`;
  #prunedAt = 0;

  constructor(url: Secret, logger: Logger) {
    this.#logger = logger;
    this.#connection = { connectionString: url.reveal(), application_name: 'firedrill-coordinator', keepAlive: true, connectionTimeoutMillis: CONNECT_TIMEOUT_MS };
    // Claims only: short statements, never held across a run.
    this.#pool = new pg.Pool({ ...this.#connection, max: 2 });
    this.#pool.on('error', (error) => logger.warn({ err: errorMessage(error) }, 'a coordination database connection failed'));
  }

  /** Creates the claims table if needed; fails loudly when the database cannot be used. */
  async start(): Promise<void> {
    try {
      await this.#pool.query(
        'create table if not exists firedrill_scheduled_fires (fire_key text primary key, drill text not null, claimed_by text not null, claimed_at timestamptz not null default now())',
      );
      await this.#prune();
    } catch (error) {
      throw new CoordinationError(
        `cannot use the coordination database (coordination.postgres): ${errorMessage(error)}; check the URL, that the server accepts connections from here, and that the user may create a table`,
        { cause: error },
      );
    }
  }

  /** Claims a fire for this replica; false when another replica has it. A database error skips the fire (node-cron fails closed). */
  async shouldRun(key: string): Promise<boolean> {
    const drill = drillOfKey(key);
    const claimed = await this.#pool.query(
      'insert into firedrill_scheduled_fires (fire_key, drill, claimed_by) values ($1, $2, $3) on conflict (fire_key) do nothing',
      [key, drill, this.#replica],
    );
    if (Date.now() - this.#prunedAt > PRUNE_EVERY_MS) await this.#prune().catch((error: unknown) => this.#logger.warn({ err: errorMessage(error) }, 'could not prune old fire claims'));
    if (claimed.rowCount === 1) return true;
    this.#logger.debug({ drill, fire: key }, 'fire skipped: another replica runs it');
    return false;
  }

  /** The drill's advisory lock, on a connection of its own, or undefined when another session (a run elsewhere) holds it. */
  async tryLockDrill(drill: string): Promise<DrillLock | undefined> {
    const client = new pg.Client(this.#connection);
    // A connection that breaks while held (the database restarted) must not take the service down: the lock is gone with the session, and said so.
    let broken: Error | undefined;
    client.on('error', (error) => {
      broken = error;
      this.#logger.warn({ drill, err: errorMessage(error) }, 'lost the coordination connection holding a drill: another replica may start it before this run ends');
    });
    let locked = false;
    try {
      await client.connect();
      const result = await client.query<{ locked: boolean }>('select pg_try_advisory_lock($1, hashtext($2)) as locked', [LOCK_NAMESPACE, drill]);
      locked = result.rows[0]?.locked === true;
    } finally {
      if (!locked) await client.end().catch(() => undefined);
    }
    if (!locked) return undefined;
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      try {
        // Ending the session drops the lock too; unlocking first says so plainly in the server's log of this session.
        if (!broken) await client.query('select pg_advisory_unlock($1, hashtext($2))', [LOCK_NAMESPACE, drill]);
      } catch {
        // the session is gone, and its lock with it
      } finally {
        await client.end().catch(() => undefined);
      }
    };
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }

  async #prune(): Promise<void> {
    this.#prunedAt = Date.now();
    await this.#pool.query(`delete from firedrill_scheduled_fires where claimed_at < now() - interval '${CLAIMS_KEPT_DAYS} days'`);
  }
}

function drillOfKey(key: string): string {
  const name = key.slice(0, key.indexOf(':'));
  return name.startsWith(TASK_NAME_PREFIX) ? name.slice(TASK_NAME_PREFIX.length) : name;
}
