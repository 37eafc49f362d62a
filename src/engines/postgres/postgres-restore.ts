import type pg from 'pg';
import type { FetchedObjects, RestoreOptions, RestoredTarget, RunContext, StartedSandbox } from '../../interfaces.ts';
import type { TargetRecord } from '../../repository/manifest.ts';
import { AbortedError, RestoreError, SandboxError, errorMessage } from '../../errors.ts';
import { ChildProcessError } from '../../pipeline/child-process.ts';
import { connect, disconnect } from './session.ts';
import type { PostgresMetadata } from './postgres-engine.ts';
import { quoteIdentifier, quoteLiteral } from './sql.ts';

/**
 * Restoring into a started sandbox: an empty database like the source's, the
 * source's roles, the extensions checked in advance, then pg_restore. A
 * failure is judged by its cause: the backup not restoring fails the drill;
 * the sandbox lacking something (an extension, disk, memory) is an
 * environment error that says nothing about the backup.
 */
export async function restorePostgres(
  context: RunContext,
  record: TargetRecord,
  metadata: PostgresMetadata,
  objects: FetchedObjects,
  sandbox: StartedSandbox,
  options: RestoreOptions,
): Promise<RestoredTarget> {
  const database = metadata.source.database;
  await context.phase('restore.prepare', () => prepareDatabase(sandbox, database, metadata));
  // No tablespaces: the sandbox has none of the source's, and where data lives on disk is not what a drill verifies.
  const args = ['--exit-on-error', '--no-password', '--no-tablespaces', `--dbname=${conninfoDatabase(database)}`, `--jobs=${options.jobs}`];
  if (options.privileges === 'skip') args.push('--no-owner', '--no-privileges');
  args.push(objects.path(metadata.object));
  await context.phase('restore.load', async () => {
    const restore = sandbox.spawnTool('pg_restore', args, { database, signal: context.signal, releasers: context.releasers, stdout: 'ignore' });
    try {
      await restore.succeeded;
    } catch (error) {
      if (context.signal.aborted) throw new AbortedError();
      throw classifyRestoreFailure(error, record, sandbox);
    }
  });
  return { connection: sandbox.connection(database), facts: { database, sandboxServerVersion: sandbox.serverVersion } };
}

async function prepareDatabase(sandbox: StartedSandbox, database: string, metadata: PostgresMetadata): Promise<void> {
  const inventory = metadata.fingerprint.inventory;
  let admin: pg.Client | undefined;
  let restored: pg.Client | undefined;
  try {
    admin = await connect(sandbox.connection('template1'));
    const available = new Set((await admin.query<{ name: string }>('select quote_ident(name) as name from pg_available_extensions')).rows.map((row) => row.name));
    const missing = (inventory.extensions ?? []).filter((extension) => !available.has(extension));
    if (missing.length > 0) {
      throw new SandboxError(
        `the backup uses extension${missing.length > 1 ? 's' : ''} ${missing.join(', ')}, which ${sandbox.description} does not have; ` +
          'install them where the sandbox runs (e.g. the postgresql-<major>-<extension> package), or use a sandbox that has them',
      );
    }
    // Owners, grantees, and roles named in policies and default privileges must exist for the restore to succeed.
    const existing = new Set((await admin.query<{ rolname: string }>('select rolname from pg_roles')).rows.map((row) => row.rolname));
    for (const role of metadata.roles.filter((name) => !existing.has(name))) {
      await admin.query(`create role ${quoteIdentifier(role)} nologin`);
    }
    await admin.query(`drop database if exists ${quoteIdentifier(database)}`);
    // template0 and the C locale: the source's locales may not exist here, and C sorts the same everywhere.
    await admin.query(`create database ${quoteIdentifier(database)} template template0 encoding ${quoteLiteral(metadata.encoding)} lc_collate 'C' lc_ctype 'C'`);

    // A new database has what the source may have dropped: take it away again, so the restore is the source's image.
    restored = await connect(sandbox.connection(database));
    if (inventory.schemas && !inventory.schemas.includes('public')) await restored.query('drop schema if exists public cascade');
    if (inventory.extensions && !inventory.extensions.includes('plpgsql')) await restored.query('drop extension if exists plpgsql cascade');
  } catch (error) {
    if (error instanceof SandboxError) throw error;
    throw new SandboxError(`cannot prepare database "${database}" in ${sandbox.description}: ${errorMessage(error)}`, { cause: error });
  } finally {
    if (restored) await disconnect(restored, sandbox.connection(database), { cancel: false });
    if (admin) await disconnect(admin, sandbox.connection('template1'), { cancel: false });
  }
}

/**
 * Messages that mean the sandbox lacks something or went away, not that the
 * backup is bad: disk, memory, a crash, and collations or locales the
 * sandbox's operating system does not have.
 */
const ENVIRONMENT_FAILURE =
  /No space left on device|could not extend file|out of memory|server closed the connection unexpectedly|terminating connection because of crash|connection to server .* failed|collation "[^"]+" for encoding "[^"]+" does not exist|could not create locale|invalid locale name/i;

function classifyRestoreFailure(error: unknown, record: TargetRecord, sandbox: StartedSandbox): Error {
  const stderr = error instanceof ChildProcessError ? withoutRowData(error.stderr) : errorMessage(error);
  const killed = error instanceof ChildProcessError && error.exitSignal !== null;
  if (killed || ENVIRONMENT_FAILURE.test(stderr)) {
    const how = killed ? `pg_restore was killed by ${(error).exitSignal} (out of memory?)` : 'pg_restore failed for lack of resources';
    return new SandboxError(`${how} while restoring target "${record.name}" into ${sandbox.description}: ${stderr}`, { cause: error });
  }
  const status = error instanceof ChildProcessError ? `exited with status ${error.exitCode}` : 'failed';
  return new RestoreError(`pg_restore ${status} restoring target "${record.name}" into ${sandbox.description}: ${stderr}`, { cause: error });
}

/**
 * pg_restore's errors without the lines that quote data: `DETAIL: Failing row
 * contains (...)` and `CONTEXT: COPY t, line 1: "..."`. Reports carry metadata only.
 */
export function withoutRowData(stderr: string): string {
  const lines = stderr
    .trim()
    .split('\n')
    .filter((line) => !/^\s*(DETAIL|CONTEXT):/.test(line));
  return lines.slice(-8).join('\n');
}

/** `--dbname` takes a conninfo string when the name contains `=`: always pass one, quoted. */
function conninfoDatabase(database: string): string {
  return `dbname='${database.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}
