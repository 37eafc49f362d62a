import type pg from 'pg';
import type { ObjectSink, RunContext } from '../../interfaces.ts';
import type { StoredObject, TargetRecord } from '../../repository/manifest.ts';
import { AbortedError, BackupError, FiredrillError, errorMessage } from '../../errors.ts';
import { onAbort } from '../../abort.ts';
import { formatDuration } from '../../config/duration.ts';
import { describeConnection, libpqEnvironment, type PostgresConnection } from './postgres-connection.ts';
import { majorFromVersionNumber } from './postgres-tools.ts';
import { pickDumpTool, type DumpTool } from './dump-tool.ts';
import { countSourceRows, readSourceCatalog, UnknownTablesError } from './source-fingerprint.ts';
import { exportSnapshot } from './snapshot.ts';
import { connect, disconnect, SessionGroup } from './session.ts';
import { prepareSourceSession } from './source-session.ts';
import type { PostgresMetadata, PostgresTarget } from './postgres-engine.ts';

/**
 * One PostgreSQL backup: connect, check pg_dump against the server, export a
 * snapshot and read the catalogs in it, then run pg_dump in that snapshot
 * while the rows are counted in it too. Both must succeed; if either fails,
 * the other is stopped (pg_dump killed, running counts cancelled on the
 * server).
 */
export async function backupPostgres(context: RunContext, targetName: string, target: PostgresTarget, sink: ObjectSink): Promise<TargetRecord> {
  const where = describeConnection(target.connection);
  const control = await context.phase('backup.connect', () => connectToSource(target, where));
  // Until the end, closing the control session also cancels whatever it is running on the source, and a
  // stop (Ctrl-C, a failed dump) closes it at once: waiting for a lock or a long catalog query ends too.
  let busy = true;
  const closeControl = context.releasers.add(`source connection ${where}`, () => disconnect(control, target.connection, { cancel: busy }));
  const sessions = new SessionGroup(target.connection);
  const closeSessions = context.releasers.add(`counting sessions on ${where}`, () => sessions.close());
  let releaseTool: (() => Promise<void>) | undefined;
  const stop = new AbortController();
  const stopOnAbort = onAbort(context.signal, () => stop.abort(context.signal.reason));
  const closeOnStop = onAbort(stop.signal, () => {
    void closeSessions.release();
    void closeControl.release();
  });
  try {
    await prepareSourceSession(control, { lockWaitTimeoutMs: target.backup.lockWaitTimeoutMs });
    const server = await readServerFacts(control, where);
    const tool = await context.phase('backup.tool', () => pickDumpTool(context, target, server, where));
    releaseTool = () => tool.release();
    context.logger.info({ source: where, server: server.version, pgDump: tool.version, pgDumpRuns: tool.where }, 'connected to source');
    const snapshot = await context.phase('backup.snapshot', () => exportSnapshot(control));
    // In the snapshot, so that every role the dump names is in the list.
    const roles = (await control.query<{ rolname: string }>(`select rolname from pg_roles where rolname !~ '^pg_' order by rolname`)).rows.map(
      (row) => row.rolname,
    );

    const options = { ...target.backup.fingerprint, jobs: target.backup.jobs, lockWaitTimeoutMs: target.backup.lockWaitTimeoutMs };
    const catalog = await context.phase('backup.inventory', () => readSourceCatalog(control, options));
    const [stored, rowCounts] = await allOrStop(stop, [
      context.phase('backup.dump', () => dump(context, target, tool, snapshot.id, `${targetName}.pgdump`, sink, stop.signal, where)),
      context.phase('backup.count', () => countSourceRows(snapshot.id, catalog.tables, options, sessions, stop.signal)),
    ]);
    const fingerprint = { inventory: catalog.inventory, rowCounts };
    busy = false;
    // Everything is read and stored: a failing COMMIT of a read-only transaction changes nothing of that.
    await control.query('commit').catch((error: unknown) => context.logger.warn({ err: errorMessage(error) }, 'could not end the snapshot transaction'));

    const metadata: PostgresMetadata = {
      source: { description: where, database: target.connection.database },
      server: { version: server.version, versionNumber: server.versionNumber, major: server.major },
      tool: { name: 'pg_dump', version: tool.version, major: tool.major, path: tool.path, where: tool.where, ...(tool.image ? { image: tool.image } : {}) },
      format: 'custom',
      object: stored.name,
      encoding: server.encoding,
      roles,
      fingerprint,
    };
    return {
      name: targetName,
      engine: 'postgres',
      snapshotAt: snapshot.takenAt.toISOString(),
      snapshotAtLocal: snapshot.takenAtLocal.toISOString(),
      metadata,
    };
  } catch (error) {
    // The same error object travels on, so the report can name the phase it came out of.
    if (error instanceof AbortedError) throw error;
    if (context.signal.aborted) throw new AbortedError();
    throw withLockTimeoutHint(asBackupError(error, where), target);
  } finally {
    stopOnAbort();
    closeOnStop();
    await releaseTool?.();
    await closeSessions.release();
    await closeControl.release();
  }
}

/**
 * A table lock that did not come in time says only "canceling statement due
 * to lock timeout" (SQLSTATE 55P03, firedrill's sessions, which run with
 * lock_timeout) or, from pg_dump, "... due to statement timeout" on its LOCK
 * TABLE (pg_dump bounds its lock wait with statement_timeout; firedrill's
 * own sessions run without one). Add what it means and what to do: the fix
 * is a setting of the drill or a word with whoever holds the lock.
 */
export function withLockTimeoutHint(error: Error, target: Pick<PostgresTarget, 'backup' | 'configuredIn'>): Error {
  if (!(error instanceof BackupError)) return error;
  const lockWait =
    (error.cause as { code?: string } | undefined)?.code === '55P03' ||
    /\bcanceling statement due to lock timeout\b/.test(error.message) ||
    (/\bcanceling statement due to statement timeout\b/.test(error.message) && /\bLOCK TABLE\b/.test(error.message));
  if (!lockWait) return error;
  const waited = formatDuration(target.backup.lockWaitTimeoutMs);
  return new BackupError(
    `${error.message}. A table stayed locked longer than backup.lockWaitTimeout (${waited}) allows: another session holds a conflicting lock ` +
      `(ALTER TABLE, TRUNCATE, VACUUM FULL, REINDEX, LOCK TABLE; see pg_locks on the source). Run the drill again once it is released, ` +
      `or raise backup.lockWaitTimeout in ${target.configuredIn}`,
    { cause: error },
  );
}

/** What the source said, as a BackupError that names the source: `internal` stays reserved for firedrill's own bugs. */
function asBackupError(error: unknown, where: string): Error {
  if (error instanceof FiredrillError) return error;
  if (error instanceof UnknownTablesError) return new BackupError(error.message, { cause: error });
  return new BackupError(`reading the source ${where} failed: ${errorMessage(error)}`, { cause: error });
}

async function connectToSource(target: PostgresTarget, where: string): Promise<pg.Client> {
  try {
    return await connect(target.connection);
  } catch (error) {
    // 28P01: wrong password; 28000: no pg_hba.conf entry or a rejected role.
    const code = (error as { code?: string }).code;
    const password = target.connection.password ? ` (from ${target.connection.password.origin})` : ' (none is set: add source.password)';
    const hint =
      code === '28P01'
        ? `Check the password${password} and the user in ${target.configuredIn}`
        : code === '28000'
          ? `The server refuses this user from here: check its pg_hba.conf and the user in ${target.configuredIn}`
          : `Check that the server is running and reachable from here, and the source settings in ${target.configuredIn}`;
    throw new BackupError(`cannot connect to the source database ${where}: ${errorMessage(error)}. ${hint}`, { cause: error });
  }
}

type ServerFacts = { version: string; versionNumber: number; major: number; encoding: string };

/** The oldest source server whose catalogs the fingerprint reads (generated columns, PostgreSQL 12). */
const OLDEST_SUPPORTED_SERVER = 120000;

async function readServerFacts(client: pg.Client, where: string): Promise<ServerFacts> {
  const facts = await client.query<{ version: string; version_number: string; encoding: string }>(
    `select current_setting('server_version') as version, current_setting('server_version_num') as version_number,
            pg_encoding_to_char(encoding) as encoding from pg_database where datname = current_database()`,
  );
  const row = facts.rows[0] as { version: string; version_number: string; encoding: string };
  const versionNumber = Number(row.version_number);
  if (versionNumber < OLDEST_SUPPORTED_SERVER) {
    throw new BackupError(`the source ${where} runs PostgreSQL ${row.version}; firedrill drills PostgreSQL 12 and newer`);
  }
  return { version: row.version, versionNumber, major: majorFromVersionNumber(versionNumber), encoding: row.encoding };
}

async function dump(
  context: RunContext,
  target: PostgresTarget,
  tool: DumpTool,
  snapshot: string,
  objectName: string,
  sink: ObjectSink,
  signal: AbortSignal,
  where: string,
): Promise<StoredObject> {
  const args = ['--format=custom', `--snapshot=${snapshot}`, `--lock-wait-timeout=${target.backup.lockWaitTimeoutMs}`, '--no-password'];
  // Compressing twice costs time and gains nothing: when the repository compresses, pg_dump does not.
  if (sink.compresses) args.push('--compress=0');
  // A name of its own, so its server session can be found: see below.
  const applicationName = `firedrill pg_dump ${context.runId}`;
  const env = { ...libpqEnvironment(target.connection), PGAPPNAME: applicationName };
  const child = tool.run(args, env, signal);
  // Both must succeed: every byte stored AND exit status 0 (a dump that stopped early still ends its output
  // cleanly). Both are waited for, so nothing is still writing when a failure is handled.
  const [written, exited] = await Promise.allSettled([
    sink.write(objectName, child.stdout).catch(async (error: unknown) => {
      await child.kill();
      throw error;
    }),
    child.succeeded,
  ]);
  // A pg_dump killed outright (SIGKILL after the grace period) leaves its server session behind as long as
  // that session waits for a lock, holding the locks it already has: end it.
  if (exited.status === 'rejected') await terminateSessions(target.connection, applicationName);
  if ((written.status === 'rejected' || exited.status === 'rejected') && context.signal.aborted) throw new AbortedError();
  // A repository failure is the cause when both failed: pg_dump was killed because of it.
  if (written.status === 'rejected') throw written.reason;
  if (exited.status === 'rejected') throw new BackupError(`pg_dump failed for ${where}: ${errorMessage(exited.reason)}`, { cause: exited.reason });
  return written.value;
}

async function terminateSessions(connection: PostgresConnection, applicationName: string): Promise<void> {
  try {
    const client = await connect(connection);
    try {
      await client.query('select pg_terminate_backend(pid) from pg_stat_activity where application_name = $1 and usename = current_user', [applicationName]);
    } finally {
      await disconnect(client, connection, { cancel: false });
    }
  } catch {
    // The source may be unreachable: then so is the session, which ends with its lock wait (lock_timeout).
  }
}

/**
 * Waits for all; on the first failure, stops the others and waits for them
 * too, so nothing keeps running behind the error. The first failure is the
 * cause; the others are only its consequences.
 */
async function allOrStop<T extends unknown[]>(stop: AbortController, work: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  let firstFailure: { error: unknown } | undefined;
  const results = await Promise.allSettled(
    work.map((promise) =>
      promise.catch((error: unknown) => {
        firstFailure ??= { error };
        stop.abort(error);
        throw error;
      }),
    ),
  );
  if (firstFailure) throw firstFailure.error;
  return results.map((result) => (result as PromiseFulfilledResult<unknown>).value) as T;
}
