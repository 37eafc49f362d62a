import type { DrillConfig } from '../config/load.ts';
import { UsageError } from '../errors.ts';
import type { SourceConfig } from '../engines/registry.ts';
import type { PostgresTarget } from '../engines/postgres/postgres-engine.ts';
import type { FilesTarget } from '../engines/files/files-engine.ts';

/**
 * The targets of a drill, each with the settings its engine needs. A drill
 * with `source:` has one target, named "source"; with `targets:`, each has
 * its own name. The name is what the manifest records and what checks refer
 * to. The drill's `backup` block (pg_dump's tool, jobs, fingerprint) applies
 * to each PostgreSQL target.
 */

export interface DrillTarget {
  name: string;
  config: SourceConfig;
  engineTarget: PostgresTarget | FilesTarget;
}

export const SINGLE_TARGET_NAME = 'source';

export function drillTargets(drill: DrillConfig): DrillTarget[] {
  const { source, targets } = drill;
  const configured: [string, SourceConfig][] = source ? [[SINGLE_TARGET_NAME, source]] : Object.entries(targets ?? {});
  if (configured.length === 0) throw new UsageError(`drill "${drill.name}" drills existing backups (backup.existing) and has no source to back up`);
  return configured.map(([name, config]) => ({ name, config, engineTarget: engineTargetOf(drill, config) }));
}

function engineTargetOf(drill: DrillConfig, config: SourceConfig): PostgresTarget | FilesTarget {
  if (config.type === 'files') {
    return { paths: config.paths, exclude: config.exclude, symlinks: config.symlinks, onUnreadable: config.onUnreadable, configuredIn: drill.file };
  }
  const { backup } = drill;
  return {
    connection: config.connection,
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
  };
}
