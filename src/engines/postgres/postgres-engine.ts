import pg from 'pg';
import { z } from 'zod';
import type { Engine, FetchedObjects, ObjectSink, RestoreOptions, RestoredTarget, RunContext, StartedSandbox } from '../../interfaces.ts';
import type { StoredObject, TargetRecord } from '../../repository/manifest.ts';
import { AbortedError, BackupError, RestoreError, SandboxError, errorMessage } from '../../errors.ts';
import { spawnChild } from '../../pipeline/child-process.ts';
import { clientConfig, describeConnection, libpqEnvironment, type PostgresConnection } from './postgres-connection.ts';
import { describeInstalled, findTools, majorFromVersionNumber, pickTool } from './postgres-tools.ts';
import { captureSourceFingerprint, type FingerprintOptions } from './source-fingerprint.ts';
import { fingerprintSchema } from './fingerprint.ts';

/**
 * PostgreSQL: pg_dump in custom format, taken inside an exported snapshot so
 * that the fingerprint recorded beside it describes exactly the dumped data;
 * restored with the sandbox's own pg_restore.
 */

export interface PostgresBackupOptions {
  format: 'custom';
  /** Sessions that count rows for the fingerprint, all in the dump's snapshot. */
  jobs: number;
  lockWaitTimeoutMs: number;
  /** Where pg_dump is; by default the lowest installed major that can dump the server. */
  binDir?: string | undefined;
  fingerprint: FingerprintOptions;
}

export interface PostgresTarget {
  connection: PostgresConnection;
  backup: PostgresBackupOptions;
  /** For messages: where this target is configured. */
  configuredIn: string;
}

export const postgresMetadataSchema = z.looseObject({
  source: z.looseObject({ description: z.string(), database: z.string() }),
  server: z.looseObject({ version: z.string(), versionNumber: z.number(), major: z.number() }),
  tool: z.looseObject({ name: z.string(), version: z.string(), major: z.number(), path: z.string() }),
  format: z.literal('custom'),
  object: z.string(),
  encoding: z.string(),
  roles: z.array(z.string()),
  fingerprint: fingerprintSchema,
});
export type PostgresMetadata = z.output<typeof postgresMetadataSchema>;

export function postgresMetadata(record: TargetRecord): PostgresMetadata {
  const parsed = postgresMetadataSchema.safeParse(record.metadata);
  if (!parsed.success) {
    throw new RestoreError(`the manifest's record of target "${record.name}" is not valid PostgreSQL metadata: ${parsed.error.issues[0]?.message ?? 'unknown problem'}`);
  }
  return parsed.data;
}

export class PostgresEngine implements Engine<PostgresTarget> {
  readonly type = 'postgres';

  async backup(context: RunContext, targetName: string, target: PostgresTarget, sink: ObjectSink): Promise<TargetRecord> {
    const where = describeConnection(target.connection);
    const control = await context.phase('backup.connect', () => connectToSource(target, where));
    const closeControl = context.releasers.add(`source connection ${where}`, () => control.end());
    try {
      const server = await readServerFacts(control);
      const tool = await context.phase('backup.tool', () => pickDumpTool(target, server, where));
      context.logger.info({ source: where, server: server.version, pgDump: tool.version }, 'connected to source');

      await control.query('begin isolation level repeatable read, read only');
      await control.query(`set local lock_timeout = ${target.backup.lockWaitTimeoutMs}`);
      const exported = await control.query<{ snapshot: string; taken_at: Date }>('select pg_export_snapshot() as snapshot, statement_timestamp() as taken_at');
      const snapshotAtLocal = new Date();
      const { snapshot, taken_at: snapshotAt } = exported.rows[0] as { snapshot: string; taken_at: Date };

      const objectName = `${targetName}.pgdump`;
      const stop = new AbortController();
      const onAbort = () => stop.abort(context.signal.reason);
      context.signal.addEventListener('abort', onAbort, { once: true });
      // Closing the control session cancels a count it is running; the run is failing anyway.
      stop.signal.addEventListener('abort', () => void closeControl.release(), { once: true });
      let stored: StoredObject;
      let fingerprint: Awaited<ReturnType<typeof captureSourceFingerprint>>;
      try {
        [stored, fingerprint] = await allOrStop(stop, [
          context.phase('backup.dump', () => dump(context, target, tool.path, snapshot, objectName, sink, stop.signal, where)),
          context.phase('backup.fingerprint', () =>
            captureSourceFingerprint(
              control,
              target.connection,
              snapshot,
              { ...target.backup.fingerprint, jobs: target.backup.jobs, lockWaitTimeoutMs: target.backup.lockWaitTimeoutMs },
              stop.signal,
              context.releasers,
            ),
          ),
        ]);
      } finally {
        context.signal.removeEventListener('abort', onAbort);
      }
      await control.query('commit');
      if (context.signal.aborted) throw new AbortedError();

      const metadata: PostgresMetadata = {
        source: { description: where, database: target.connection.database },
        server: { version: server.version, versionNumber: server.versionNumber, major: server.major },
        tool: { name: 'pg_dump', version: tool.version, major: tool.major, path: tool.path },
        format: 'custom',
        object: stored.name,
        encoding: server.encoding,
        roles: server.roles,
        fingerprint,
      };
      return {
        name: targetName,
        engine: this.type,
        snapshotAt: snapshotAt.toISOString(),
        snapshotAtLocal: snapshotAtLocal.toISOString(),
        metadata,
      };
    } finally {
      await closeControl.release();
    }
  }

  sandboxRequirements(record: TargetRecord) {
    const metadata = postgresMetadata(record);
    // pg_restore must read the archive format of the pg_dump that wrote it, and the server must be at least the source's.
    return { minimumServerMajor: Math.max(metadata.server.major, metadata.tool.major) };
  }

  async restore(context: RunContext, record: TargetRecord, objects: FetchedObjects, sandbox: StartedSandbox, options: RestoreOptions): Promise<RestoredTarget> {
    const metadata = postgresMetadata(record);
    const database = metadata.source.database;
    await context.phase('restore.prepare', () => prepareDatabase(sandbox, database, metadata, options));
    const archive = objects.path(metadata.object);
    const args = ['--exit-on-error', '--no-password', `--dbname=${conninfoDatabase(database)}`, `--jobs=${options.jobs}`];
    if (options.roles === 'none') args.push('--no-owner', '--no-privileges');
    args.push(archive);
    await context.phase('restore.load', async () => {
      const restore = sandbox.spawnTool('pg_restore', args, { database, signal: context.signal, releasers: context.releasers, stdout: 'ignore' });
      try {
        await restore.succeeded;
      } catch (error) {
        if (context.signal.aborted) throw new AbortedError();
        throw new RestoreError(`pg_restore could not restore target "${record.name}" into ${sandbox.description}: ${errorMessage(error)}`, { cause: error });
      }
    });
    return { connection: sandbox.connection(database), facts: { database, sandboxServerVersion: sandbox.serverVersion } };
  }
}

async function connectToSource(target: PostgresTarget, where: string): Promise<pg.Client> {
  const client = new pg.Client(clientConfig(target.connection));
  // A connection that breaks later surfaces through the failing query; this only keeps it from crashing the process.
  client.on('error', () => undefined);
  try {
    await client.connect();
    return client;
  } catch (error) {
    await client.end().catch(() => undefined);
    throw new BackupError(
      `cannot connect to the source database ${where}: ${errorMessage(error)}. ` +
        `Check that the server is running and reachable from here, and the source settings in ${target.configuredIn}`,
      { cause: error },
    );
  }
}

type ServerFacts = {
  version: string;
  versionNumber: number;
  major: number;
  encoding: string;
  roles: string[];
};

async function readServerFacts(client: pg.Client): Promise<ServerFacts> {
  const facts = await client.query<{ version: string; version_number: string; encoding: string }>(
    `select current_setting('server_version') as version, current_setting('server_version_num') as version_number,
            pg_encoding_to_char(encoding) as encoding from pg_database where datname = current_database()`,
  );
  const row = facts.rows[0] as { version: string; version_number: string; encoding: string };
  // Role names only (no attributes, no passwords): enough to recreate owners and grantees in a sandbox.
  const roles = await client.query<{ rolname: string }>(`select rolname from pg_roles where rolname !~ '^pg_' order by rolname`);
  const versionNumber = Number(row.version_number);
  return {
    version: row.version,
    versionNumber,
    major: majorFromVersionNumber(versionNumber),
    encoding: row.encoding,
    roles: roles.rows.map((role) => role.rolname),
  };
}

async function pickDumpTool(target: PostgresTarget, server: ServerFacts, where: string) {
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
  pgDump: string,
  snapshot: string,
  objectName: string,
  sink: ObjectSink,
  signal: AbortSignal,
  where: string,
): Promise<StoredObject> {
  const args = ['--format=custom', `--snapshot=${snapshot}`, `--lock-wait-timeout=${target.backup.lockWaitTimeoutMs}`, '--no-password'];
  const child = spawnChild(pgDump, args, { env: libpqEnvironment(target.connection), signal, releasers: context.releasers });
  // Both must succeed: bytes stored AND pg_dump's exit status 0. A dump that stopped early still ends its stdout cleanly.
  const [stored] = await Promise.all([
    sink.write(objectName, child.stdout).catch(async (error: unknown) => {
      await child.kill();
      throw error;
    }),
    child.succeeded.catch((error: unknown) => {
      throw context.signal.aborted ? new AbortedError() : new BackupError(`pg_dump failed for ${where}: ${errorMessage(error)}`, { cause: error });
    }),
  ]);
  return stored;
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

async function prepareDatabase(sandbox: StartedSandbox, database: string, metadata: PostgresMetadata, options: RestoreOptions): Promise<void> {
  const client = new pg.Client(clientConfig(sandbox.connection('template1')));
  client.on('error', () => undefined);
  try {
    await client.connect();
    if (options.roles === 'create') {
      const existing = new Set((await client.query<{ rolname: string }>('select rolname from pg_roles')).rows.map((row) => row.rolname));
      for (const role of metadata.roles.filter((name) => !existing.has(name))) {
        await client.query(`create role ${quoteIdentifier(role)} nologin`);
      }
    }
    await client.query(`drop database if exists ${quoteIdentifier(database)}`);
    // template0 and the C locale: the source's locales may not exist here, and C sorts the same everywhere.
    await client.query(
      `create database ${quoteIdentifier(database)} template template0 encoding ${quoteLiteral(metadata.encoding)} lc_collate 'C' lc_ctype 'C'`,
    );
  } catch (error) {
    throw new SandboxError(`cannot prepare database "${database}" in ${sandbox.description}: ${errorMessage(error)}`, { cause: error });
  } finally {
    await client.end().catch(() => undefined);
  }
}

export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function quoteLiteral(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/** `--dbname` takes a conninfo string when the name contains `=`: always pass one, quoted. */
function conninfoDatabase(database: string): string {
  return `dbname='${database.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}
