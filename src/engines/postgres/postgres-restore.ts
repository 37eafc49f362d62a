import type { FetchedObjects, RestoreOptions, RestoredTarget, RunContext, StartedSandbox } from '../../interfaces.ts';
import type { TargetRecord } from '../../repository/manifest.ts';
import { AbortedError, RestoreError, SandboxError, errorMessage } from '../../errors.ts';
import { ChildProcessError } from '../../pipeline/child-process.ts';
import { SessionGroup } from './session.ts';
import { onAbort } from '../../abort.ts';
import type { PostgresMetadata } from './postgres-engine.ts';
import { quoteIdentifier, quoteLiteral } from './sql.ts';
import { listWithout } from './leave-out.ts';
import type { StoredInventory } from './fingerprint.ts';

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
  await context.phase('restore.prepare', async () => {
    try {
      await prepareDatabase(sandbox, database, metadata, options, context.signal);
    } catch (error) {
      if (context.signal.aborted) throw new AbortedError();
      throw error;
    }
  });
  // pg_restore --jobs needs a seekable file: a container sandbox gets a copy of the archive first.
  const staged = await context.phase('restore.copy', () => stageArchive(sandbox, objects.path(metadata.object), context.signal));
  const [tool, args] = metadata.format === 'plain' ? psqlCommand(database, staged) : pgRestoreCommand(database, staged, options);
  let leftOut: string | undefined;
  const leaveOut = options.damage?.leaveOut;
  if (leaveOut && tool === 'pg_restore') {
    const list = await listWithout(objects.path(metadata.object), leaveOut, { minimumMajor: metadata.tool.major, signal: context.signal });
    context.releasers.add('restore list', () => list.directory.release());
    leftOut = list.leftOut;
    args.splice(-1, 0, `--use-list=${await sandbox.stageFile(list.listFile, context.signal)}`);
    context.logger.warn({ leftOut }, 'restoring without one archive entry (gameday)');
  }
  await context.phase('restore.load', async () => {
    try {
      await sandbox.runTool(tool, args, { database, signal: context.signal, releasers: context.releasers });
    } catch (error) {
      if (context.signal.aborted) throw new AbortedError();
      throw classifyRestoreFailure(error, record, sandbox, tool);
    }
  });
  return { kind: 'database', connection: sandbox.connection(database), facts: { database, sandboxServerVersion: sandbox.serverVersion, ...(leftOut ? { leftOut } : {}) } };
}

function pgRestoreCommand(database: string, archive: string, options: RestoreOptions): ['pg_restore', string[]] {
  // No tablespaces: the sandbox has none of the source's, and where data lives on disk is not what a drill verifies.
  const args = ['--exit-on-error', '--no-password', '--no-tablespaces', `--dbname=${conninfoDatabase(database)}`, `--jobs=${options.jobs}`];
  if (options.privileges === 'skip') args.push('--no-owner', '--no-privileges');
  return ['pg_restore', [...args, archive]];
}

/** A plain SQL dump runs through psql, stopping at the first error as pg_restore --exit-on-error does. */
function psqlCommand(database: string, script: string): ['psql', string[]] {
  return ['psql', ['--no-psqlrc', '--quiet', '--no-password', '--set=ON_ERROR_STOP=1', `--dbname=${conninfoDatabase(database)}`, `--file=${script}`]];
}

async function stageArchive(sandbox: StartedSandbox, path: string, signal: AbortSignal): Promise<string> {
  try {
    return await sandbox.stageFile(path, signal);
  } catch (error) {
    if (signal.aborted) throw new AbortedError();
    if (error instanceof SandboxError) throw error;
    throw new SandboxError(`cannot hand the archive to ${sandbox.description}: ${errorMessage(error)}`, { cause: error });
  }
}

async function prepareDatabase(
  sandbox: StartedSandbox,
  database: string,
  metadata: PostgresMetadata,
  options: Pick<RestoreOptions, 'prepare' | 'damage'>,
  signal: AbortSignal,
): Promise<void> {
  const { prepare } = options;
  // A backup made elsewhere has no recorded inventory: the new database is left as it comes.
  const inventory: Partial<StoredInventory> = metadata.fingerprint?.inventory ?? {};
  // A stop cancels what runs now (restore.prepare may run anything, for any time) and closes both sessions,
  // including one still connecting.
  const adminSessions = new SessionGroup(sandbox.connection('template1'));
  const restoredSessions = new SessionGroup(sandbox.connection(database));
  const stopOnAbort = onAbort(signal, () => {
    void restoredSessions.close({ cancel: true });
    void adminSessions.close({ cancel: true });
  });
  try {
    const admin = await adminSessions.open();
    const available = new Set((await admin.query<{ name: string }>('select quote_ident(name) as name from pg_available_extensions')).rows.map((row) => row.name));
    for (const hidden of options.damage?.hideExtensions ?? []) available.delete(hidden);
    const missing = (inventory.extensions ?? []).filter((extension) => !available.has(extension));
    if (missing.length > 0) {
      throw new SandboxError(
        `the backup uses extension${missing.length > 1 ? 's' : ''} ${missing.join(', ')}, which ${sandbox.description} does not have. ` +
          `${MISSING_EXTENSION_FIX}`,
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
    const restored = await restoredSessions.open();
    if (inventory.schemas && !inventory.schemas.includes('public')) await restored.query('drop schema if exists public cascade');
    if (inventory.extensions && !inventory.extensions.includes('plpgsql')) await restored.query('drop extension if exists plpgsql cascade');
    if (prepare) {
      try {
        await restored.query(prepare.sql);
      } catch (error) {
        throw new SandboxError(`restore.prepare failed in ${sandbox.description}: ${errorMessage(error)}. Fix the SQL in ${prepare.configuredIn}`, { cause: error });
      }
    }
  } catch (error) {
    if (error instanceof SandboxError) throw error;
    throw new SandboxError(`cannot prepare database "${database}" in ${sandbox.description}: ${errorMessage(error)}`, { cause: error });
  } finally {
    stopOnAbort();
    await restoredSessions.close({ cancel: false });
    await adminSessions.close({ cancel: false });
  }
}

const MISSING_EXTENSION_FIX =
  'Restore into an image that has them (restore.image, e.g. postgis/postgis:<major>-3.4 or pgvector/pgvector:pg<major>), ' +
  'install their packages where a local sandbox runs (postgresql-<major>-<extension>), or create them in restore.prepare if they are installed under another name';

/**
 * What a failed restore says the sandbox lacks, named, with the setting that
 * provides it. pg_restore reports these as SQL errors like any other; they
 * are environment errors, not a bad backup.
 */
const MISSING_IN_SANDBOX: { pattern: RegExp; explain: (name: string) => string }[] = [
  {
    pattern: /role "([^"]+)" does not exist/,
    explain: (role) => `role "${role}" does not exist in the sandbox. Create it in restore.prepare (create role ${quoteIdentifier(role)} nologin;), or set restore.privileges: skip`,
  },
  {
    pattern: /extension "([^"]+)" is not available|could not open extension control file "[^"]*\/([^"/]+)\.control"/,
    explain: (extension) => `extension "${extension}" is not available in the sandbox. ${MISSING_EXTENSION_FIX}`,
  },
  {
    pattern: /could not access file "\$libdir\/([^"]+)"/,
    explain: (library) => `the sandbox lacks the library "${library}" that the backup's functions need. ${MISSING_EXTENSION_FIX}`,
  },
];

/**
 * Messages that mean the sandbox lacks something or went away, not that the
 * backup is bad: disk, memory, a crash, and collations or locales the
 * sandbox's operating system does not have.
 */
const ENVIRONMENT_FAILURE =
  /No space left on device|could not extend file|out of memory|server closed the connection unexpectedly|terminating connection because of crash|connection to server .* failed|collation "[^"]+" for encoding "[^"]+" does not exist|could not create locale|invalid locale name/i;

function classifyRestoreFailure(error: unknown, record: TargetRecord, sandbox: StartedSandbox, tool: string): Error {
  const into = `restoring target "${record.name}" into ${sandbox.description}`;
  // Only pg_restore's own verdict can say the backup is bad: a broken exec stream or a vanished container says nothing of it.
  if (!(error instanceof ChildProcessError)) return new SandboxError(`running ${tool} failed while ${into}: ${errorMessage(error)}`, { cause: error });
  const stderr = withoutRowData(error.stderr);
  if (error.exitSignal !== null || ENVIRONMENT_FAILURE.test(stderr)) {
    const how = error.exitSignal !== null ? `${tool} was killed by ${error.exitSignal} (out of memory?)` : `${tool} failed for lack of resources`;
    return new SandboxError(`${how} while ${into}: ${stderr}`, { cause: error });
  }
  // 126/127: the shell's and Docker's "cannot run" / "not found": the sandbox has no usable pg_restore.
  if (error.exitCode === null || error.exitCode === 126 || error.exitCode === 127) {
    return new SandboxError(`${tool} could not be run in ${sandbox.description} (${error.message}); use an image or binDir that has it`, { cause: error });
  }
  for (const missing of MISSING_IN_SANDBOX) {
    const match = missing.pattern.exec(stderr);
    const name = match?.slice(1).find((group) => group !== undefined);
    if (name) return new SandboxError(`${into} failed: ${missing.explain(name)}. ${tool} said: ${stderr}`, { cause: error });
  }
  return new RestoreError(`${tool} exited with status ${error.exitCode} ${into}: ${stderr}`, { cause: error });
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
