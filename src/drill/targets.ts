import type { DrillConfig } from '../config/load.ts';
import { UsageError } from '../errors.ts';
import type { SourceConfig } from '../engines/registry.ts';
import type { PostgresTarget } from '../engines/postgres/postgres-engine.ts';

/**
 * The targets of a drill, each with the settings its engine needs. A drill
 * with `source:` has one target, named "source"; the name is what the
 * manifest records and what checks refer to.
 */

export interface DrillTarget {
  name: string;
  config: SourceConfig;
  engineTarget: PostgresTarget;
}

export const SINGLE_TARGET_NAME = 'source';

export function drillTargets(drill: DrillConfig): DrillTarget[] {
  const { source, backup } = drill;
  if (!source) throw new UsageError(`drill "${drill.name}" drills existing backups (backup.existing) and has no source to back up`);
  return [
    {
      name: SINGLE_TARGET_NAME,
      config: source,
      engineTarget: {
        connection: source.connection,
        backup: {
          format: backup.format,
          jobs: backup.jobs,
          lockWaitTimeoutMs: backup.lockWaitTimeout,
          tool: backup.tool,
          binDir: backup.binDir,
          image: backup.image,
          network: backup.network,
          fingerprint: backup.fingerprint,
        },
        configuredIn: drill.file,
      },
    },
  ];
}
