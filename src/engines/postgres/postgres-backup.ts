import type pg from 'pg';
import type { ObjectSink, RunContext } from '../../interfaces.ts';
import type { StoredObject, TargetRecord } from '../../repository/manifest.ts';
import { AbortedError, BackupError, errorMessage } from '../../errors.ts';
import { onAbort } from '../../abort.ts';
import { spawnChild } from '../../pipeline/child-process.ts';
import { describeConnection, libpqEnvironment } from './postgres-connection.ts';
import { describeInstalled, findTools, majorFromVersionNumber, pickTool, type InstalledTool } from './postgres-tools.ts';
import { captureSourceFingerprint } from './source-fingerprint.ts';
import { exportLockedSnapshot } from './snapshot.ts';
import { connect, disconnect } from './session.ts';
import type { PostgresMetadata, PostgresTarget } from './postgres-engine.ts';

/**
 * One PostgreSQL backup: connect, check pg_dump against the server, lock and
 * export a snapshot, then run pg_dump in that snapshot while the fingerprint
 * is taken in it too. Both must succeed; if either fails, the other is
 * stopped (pg_dump killed, running counts cancelled on the server).
 */
export async function backupPostgres(context: RunContext, targetName: string, target: PostgresTarget, sink: ObjectSink): Promise<TargetRecord> {
  const where = describeConnection(target.connection);
  const control = await context.phase('backup.connect', () => connectToSource(target, where));
  // Until the end, closing the control session also cancels whatever it is running on the source.
  let busy = true;
  const closeControl = context.releasers.add(`source connection ${where}`, () => disconnect(control, target.connection, { cancel: busy }));
  try {
    const server = await readServerFacts(control);
    const tool = await context.phase('backup.tool', () => pickDumpTool(target, server, where));
    context.logger.info({ source: where, server: server.version, pgDump: tool.version }, 'connected to source');
    const snapshot = await context.phase('backup.snapshot', () => exportLockedSnapshot(control, target.backup.lockWaitTimeoutMs, where));
    // In the snapshot, so that every role the dump names is in the list.
    const roles = (await control.query<{ rolname: string }>(`select rolname from pg_roles where rolname !~ '^pg_' order by rolname`)).rows.map(
      (row) => row.rolname,
    );

    const stop = new AbortController();
    const stopOnAbort = onAbort(context.signal, () => stop.abort(context.signal.reason));
    const closeOnStop = onAbort(stop.signal, () => void closeControl.release());
    let stored: StoredObject;
    let fingerprint: PostgresMetadata['fingerprint'];
    try {
      [stored, fingerprint] = await allOrStop(stop, [
        context.phase('backup.dump', () => dump(context, target, tool, snapshot.id, `${targetName}.pgdump`, sink, stop.signal, where)),
        context.phase('backup.fingerprint', () =>
          captureSourceFingerprint(
            control,
            target.connection,
            snapshot.id,
            { ...target.backup.fingerprint, jobs: target.backup.jobs, lockWaitTimeoutMs: target.backup.lockWaitTimeoutMs },
            stop.signal,
            context.releasers,
          ),
        ),
      ]);
    } finally {
      stopOnAbort();
      closeOnStop();
    }
    await control.query('commit');
    busy = false;

    const metadata: PostgresMetadata = {
      source: { description: where, database: target.connection.database },
      server: { version: server.version, versionNumber: server.versionNumber, major: server.major },
      tool: { name: 'pg_dump', version: tool.version, major: tool.major, path: tool.path },
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
  } finally {
    await closeControl.release();
  }
}

async function connectToSource(target: PostgresTarget, where: string): Promise<pg.Client> {
  try {
    return await connect(target.connection);
  } catch (error) {
    throw new BackupError(
      `cannot connect to the source database ${where}: ${errorMessage(error)}. ` +
        `Check that the server is running and reachable from here, and the source settings in ${target.configuredIn}`,
      { cause: error },
    );
  }
}

type ServerFacts = { version: string; versionNumber: number; major: number; encoding: string };

async function readServerFacts(client: pg.Client): Promise<ServerFacts> {
  const facts = await client.query<{ version: string; version_number: string; encoding: string }>(
    `select current_setting('server_version') as version, current_setting('server_version_num') as version_number,
            pg_encoding_to_char(encoding) as encoding from pg_database where datname = current_database()`,
  );
  const row = facts.rows[0] as { version: string; version_number: string; encoding: string };
  const versionNumber = Number(row.version_number);
  return { version: row.version, versionNumber, major: majorFromVersionNumber(versionNumber), encoding: row.encoding };
}

async function pickDumpTool(target: PostgresTarget, server: ServerFacts, where: string): Promise<InstalledTool> {
  const installed = await findTools('pg_dump', target.backup.binDir ? [target.backup.binDir] : []);
  const tool = pickTool(installed, server.major);
  if (!tool) {
    const newest = installed.at(-1);
    const found = newest ? `pg_dump ${newest.version} (${newest.path}) is older than` : 'no pg_dump was found for';
    throw new BackupError(
      `${found} the source server ${where} (PostgreSQL ${server.version}); pg_dump must be at least the server's major version ` +
        `(installed: ${describeInstalled(installed)}). Install the PostgreSQL ${server.major} client tools ` +
        `(e.g. apt-get install postgresql-client-${server.major}) or set backup.binDir in ${target.configuredIn}`,
    );
  }
  return tool;
}

async function dump(
  context: RunContext,
  target: PostgresTarget,
  tool: InstalledTool,
  snapshot: string,
  objectName: string,
  sink: ObjectSink,
  signal: AbortSignal,
  where: string,
): Promise<StoredObject> {
  const args = ['--format=custom', `--snapshot=${snapshot}`, `--lock-wait-timeout=${target.backup.lockWaitTimeoutMs}`, '--no-password'];
  const child = spawnChild(tool.path, args, { env: libpqEnvironment(target.connection), signal, releasers: context.releasers });
  // Both must succeed: every byte stored AND exit status 0 (a dump that stopped early still ends its output
  // cleanly). Both are waited for, so nothing is still writing when a failure is handled.
  const [written, exited] = await Promise.allSettled([
    sink.write(objectName, child.stdout).catch(async (error: unknown) => {
      await child.kill();
      throw error;
    }),
    child.succeeded,
  ]);
  if ((written.status === 'rejected' || exited.status === 'rejected') && context.signal.aborted) throw new AbortedError();
  // A repository failure is the cause when both failed: pg_dump was killed because of it.
  if (written.status === 'rejected') throw written.reason;
  if (exited.status === 'rejected') throw new BackupError(`pg_dump failed for ${where}: ${errorMessage(exited.reason)}`, { cause: exited.reason });
  return written.value;
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
