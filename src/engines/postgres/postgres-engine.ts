import { z } from 'zod';
import type { Engine, FetchedObjects, ObjectSink, RestoreOptions, RestorePlace, RestoredTarget, RunContext, TargetDescription } from '../../interfaces.ts';
import type { TargetRecord } from '../../repository/manifest.ts';
import { parseTargetMetadata } from '../target-metadata.ts';
import type { PostgresConnection } from './postgres-connection.ts';
import type { FingerprintOptions } from './source-fingerprint.ts';
import { fingerprintSchema } from './fingerprint.ts';
import { backupPostgres } from './postgres-backup.ts';
import { restorePostgres } from './postgres-restore.ts';
import { inspectExistingDump } from './existing-dump.ts';

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
  /** host: an installed pg_dump; docker: one in a container of `image`; auto: the host's if recent enough. */
  tool: 'auto' | 'host' | 'docker';
  /** Where pg_dump is on the host; by default the lowest installed major that can dump the server. */
  binDir?: string | undefined;
  /** Image for a containerized pg_dump, `{major}` replaced by the server's major. */
  image: string;
  /** Docker network of that container (`host` by default). */
  network: string;
  fingerprint: FingerprintOptions;
}

export interface PostgresTarget {
  connection: PostgresConnection;
  backup: PostgresBackupOptions;
  /** For messages: where this target is configured. */
  configuredIn: string;
}

/** What the manifest records of a PostgreSQL target. Metadata only: names, versions, counts. */
export const postgresMetadataSchema = z.looseObject({
  source: z.looseObject({ description: z.string(), database: z.string() }),
  server: z.looseObject({ version: z.string(), versionNumber: z.number(), major: z.number() }),
  tool: z.looseObject({ name: z.string(), version: z.string(), major: z.number(), path: z.string() }),
  /** custom: firedrill's own backups and pg_dump -Fc; plain and directory: backups made elsewhere. */
  format: z.enum(['custom', 'plain', 'directory']),
  object: z.string(),
  encoding: z.string(),
  /** Role names of the source cluster, to recreate owners and grantees in a sandbox. */
  roles: z.array(z.string()),
  /** Absent for backups made elsewhere: nothing recorded the source at dump time. */
  fingerprint: fingerprintSchema.optional(),
  /** `existing`: a backup made elsewhere, described from the dump itself. */
  origin: z.enum(['firedrill', 'existing']).optional(),
});
export type PostgresMetadata = z.output<typeof postgresMetadataSchema>;

export function postgresMetadata(record: TargetRecord): PostgresMetadata {
  return parseTargetMetadata(postgresMetadataSchema, record, 'PostgreSQL');
}

export class PostgresEngine implements Engine<PostgresTarget> {
  readonly type = 'postgres';
  readonly restoresInto = 'sandbox';

  backup(context: RunContext, targetName: string, target: PostgresTarget, sink: ObjectSink): Promise<TargetRecord> {
    return backupPostgres(context, targetName, target, sink);
  }

  describeTarget(record: TargetRecord): TargetDescription {
    const metadata = postgresMetadataSchema.safeParse(record.metadata);
    if (!metadata.success) return {};
    const { source, server, tool } = metadata.data;
    const ran =
      metadata.data.origin === 'existing'
        ? ' (made elsewhere)'
        : tool['where'] === 'docker' && typeof tool['image'] === 'string'
          ? ` (in a container of ${tool['image']})`
          : '';
    return { source: source.description, serverVersion: server.version, tool: `${tool.name}${ran}`, toolVersion: tool.version };
  }

  sandboxRequirements(record: TargetRecord) {
    const metadata = postgresMetadata(record);
    // pg_restore must read the archive format of the pg_dump that wrote it, and the server must be at least the source's.
    return { minimumServerMajor: Math.max(metadata.server.major, metadata.tool.major) };
  }

  inspectExisting(
    record: TargetRecord,
    fetched: { path: string; format: 'custom' | 'plain' | 'directory' },
    options: { database: string | undefined; configuredIn: string },
  ): Promise<TargetRecord> {
    return inspectExistingDump(record, fetched, options);
  }

  restore(context: RunContext, record: TargetRecord, objects: FetchedObjects, place: RestorePlace, options: RestoreOptions): Promise<RestoredTarget> {
    if (place.kind !== 'sandbox') throw new Error(`a PostgreSQL target restores into a sandbox, not a ${place.kind}`);
    return restorePostgres(context, record, postgresMetadata(record), objects, place.sandbox, options);
  }
}
