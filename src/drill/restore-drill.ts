import type { Logger } from '../logger.ts';
import type { DrillConfig, RunnerConfig } from '../config/load.ts';
import type { Manifest } from '../repository/manifest.ts';
import { repositoryFor } from '../repository/registry.ts';
import { sandboxFor } from '../sandbox/registry.ts';
import { DrillRunContext } from './run-context.ts';
import { selectBackup } from './backup-step.ts';
import { restoreBackup } from './restore-step.ts';
import { existingRepositoryFor, selectExistingBackup } from './existing-backup.ts';
import { newId } from './ids.ts';

/**
 * `firedrill restore`: a backup restored into a sandbox for people, not for a
 * verdict. The same fetch, verification and restore as a drill, without
 * checks or a report. With `keep`, a sandbox that can outlive firedrill (a
 * container) is left running for hands-on recovery or investigation; one
 * that cannot (a local cluster, a child of this process) stays up until
 * `whileRunning` returns (the CLI waits for Ctrl-C).
 */

export interface RestoredForUse {
  runId: string;
  manifest: Manifest;
  /** Each target of the backup: a database in a sandbox, or files in a directory. */
  targets: RestoredTargetForUse[];
  durationMs: number;
}

export type RestoredTargetForUse =
  | { name: string; kind: 'database'; sandbox: { id: string; description: string; kept: boolean; connectionUrl: string; database: string } }
  /** A files target's directory lives as long as the command, like a local cluster. */
  | { name: string; kind: 'files'; directory: string };

export async function restoreDrillBackup(
  drill: DrillConfig,
  options: {
    runner: RunnerConfig;
    logger: Logger;
    backupId: string;
    keep: boolean;
    signal: AbortSignal;
    /** Called with the restored sandbox while it still runs; for a sandbox that cannot be kept, its removal waits for this. */
    whileRunning?: (restored: RestoredForUse) => Promise<void>;
  },
): Promise<RestoredForUse> {
  const started = performance.now();
  const runId = newId(new Date());
  const logger = options.logger.child({ drill: drill.name, runId });
  const context = new DrillRunContext({ runId, drillName: drill.name, logger, signal: options.signal, clock: () => new Date() });
  try {
    const repository = drill.backup.existing ? existingRepositoryFor(options.runner, drill) : repositoryFor(options.runner, drill);
    const sandbox = sandboxFor(options.runner, drill);
    const manifest = await context.phase('select-backup', () =>
      drill.backup.existing
        ? selectExistingBackup(drill, repository, options.backupId, { now: new Date(), random: Math.random })
        : selectBackup(drill, repository, options.backupId),
    );
    const result = await context.phase('restore', () => restoreBackup(context, drill, manifest, repository, sandbox));
    const targets: RestoredTargetForUse[] = [];
    for (const target of result.targets) {
      if (target.restored.kind === 'files') {
        targets.push({ name: target.record.name, kind: 'files', directory: target.restored.directory });
        continue;
      }
      const sandbox = target.sandbox;
      if (!sandbox) continue;
      const database = target.restored.connection.database;
      const kept = options.keep && sandbox.keep !== undefined;
      if (kept) await sandbox.keep?.();
      targets.push({
        name: target.record.name,
        kind: 'database',
        sandbox: { id: sandbox.id, description: sandbox.description, kept, connectionUrl: sandbox.connectionUrl(database), database },
      });
    }
    const restored: RestoredForUse = { runId, manifest, targets, durationMs: Math.round(performance.now() - started) };
    await options.whileRunning?.(restored);
    return restored;
  } finally {
    await context.releasers.releaseAll();
  }
}
