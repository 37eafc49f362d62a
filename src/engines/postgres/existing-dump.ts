import type { TargetRecord } from '../../repository/manifest.ts';
import { ConfigError, IntegrityError, errorMessage } from '../../errors.ts';
import { readDumpHeader, readDumpRoles } from './dump-header.ts';
import type { PostgresMetadata } from './postgres-engine.ts';

/**
 * A dump made elsewhere, described from its own bytes: the server it came
 * from (which decides the sandbox's major), the pg_dump that wrote it, the
 * database name, and the roles it names, so that a sandbox can have them.
 */
export async function inspectExistingDump(
  record: TargetRecord,
  fetched: { path: string; format: 'custom' | 'plain' | 'directory' },
  options: { database: string | undefined; configuredIn: string },
): Promise<TargetRecord> {
  const { database, configuredIn } = options;
  const object = typeof record.metadata['object'] === 'string' ? record.metadata['object'] : 'the backup';
  let header;
  let roles: string[];
  try {
    header = await readDumpHeader(fetched.path, fetched.format);
    roles = await readDumpRoles(fetched.path, fetched.format);
  } catch (error) {
    const message = errorMessage(error);
    // A dump that is fine but not what backup.existing says (another format, still compressed) is the drill's mistake, not a bad backup.
    if (/set (format|compression):/.test(message)) {
      throw new ConfigError([{ file: configuredIn, path: 'backup.existing', message: `does not describe ${object}: ${message}` }], { cause: error });
    }
    throw new IntegrityError(`${object} is not a readable ${fetched.format}-format pg_dump: ${message}`, { cause: error });
  }
  const serverMajor = header.serverMajor ?? header.dumpMajor;
  if (serverMajor === undefined) {
    throw new IntegrityError(
      `${object} does not say which PostgreSQL version it was dumped from (no "Dumped from database version" header); firedrill cannot pick a sandbox for it`,
    );
  }
  const previous = record.metadata as Partial<PostgresMetadata>;
  const metadata: PostgresMetadata = {
    origin: 'existing',
    source: { description: previous.source?.description ?? object, database: database ?? header.database ?? 'restored' },
    server: { version: header.serverVersion ?? `${serverMajor}`, versionNumber: serverMajor * 10000, major: serverMajor },
    tool: { name: 'pg_dump', version: header.dumpVersion ?? 'unknown', major: header.dumpMajor ?? serverMajor, path: '' },
    format: fetched.format,
    object,
    // The dump sets its own client encoding; UTF8 holds anything it can say.
    encoding: 'UTF8',
    roles,
  };
  return { ...record, metadata };
}
