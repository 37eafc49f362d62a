import { join } from 'node:path';
import { rm } from 'node:fs/promises';
import type { Logger } from '../logger.ts';
import type { DrillConfig, RunnerConfig } from '../config/load.ts';
import type { Report, RunStatus } from '../report/report.ts';
import type { RepositoryConfig } from '../repository/registry.ts';
import { repositoryFor } from '../repository/registry.ts';
import { selectBackup } from '../drill/backup-step.ts';
import { runDrill } from '../drill/run-drill.ts';
import { createWorkDirectory } from '../pipeline/work-directory.ts';
import { throwIfAborted } from '../abort.ts';
import { FiredrillError, RepositoryError, UsageError, errorMessage } from '../errors.ts';
import { copyBackup } from './backup-copy.ts';
import { DEFECTS } from './registry.ts';
import type { BackupCopy, Defect, DefectContext, VariantSettings } from './defect.ts';

/**
 * `firedrill gameday`: proves that a drill would go red if recovery broke.
 * The drill's restore and checks run against deliberately damaged copies of
 * its latest backup, one defect at a time, each copy in a throwaway local
 * repository under a private work directory and each restore in its own
 * sandbox. The original backup is only read. First the undamaged copy must
 * pass: a drill that fails anyway proves nothing about defects.
 */

export const GAMEDAY_SCHEMA_VERSION = 1;

export interface DefectResult {
  id: string;
  description: string;
  applicable: boolean;
  /** Why the defect could not be made for this drill. */
  notApplicableBecause?: string;
  /** The drill went red (failed) on it. */
  caught?: boolean;
  /** Neither caught nor missed: the drill could not run on the copy, or the defect could not be made. Says nothing about the drill. */
  inconclusive?: boolean;
  /** The check, objective or error that caught it. */
  caughtBy?: string;
  /** The run's status and summary on the damaged copy. */
  status?: RunStatus;
  summary?: string;
  /** For a defect that was not caught: what to change; for an inconclusive one: what happened. */
  suggestion?: string;
}

export interface GamedayReport {
  schemaVersion: typeof GAMEDAY_SCHEMA_VERSION;
  drill: string;
  backupId: string;
  startedAt: string;
  finishedAt: string;
  /** The undamaged copy's run: it must pass. */
  baseline: { status: RunStatus; runId: string; summary: string };
  /** `applicable` counts every defect that could be made; `inconclusive` ones are neither caught nor missed. */
  score: { caught: number; applicable: number; inconclusive: number };
  defects: DefectResult[];
}

export interface GamedayOptions {
  runner: RunnerConfig;
  logger: Logger;
  signal: AbortSignal;
  /** `latest` (default) or a backup id. */
  backup?: string | undefined;
  /** Called as each defect is done, for progress output. */
  onResult?: (result: DefectResult) => void;
}

/** Where the copies live, under a name no configured repository has. */
const VARIANT_REPOSITORY = 'firedrill-gameday-copy';

export async function runGameday(drill: DrillConfig, options: GamedayOptions): Promise<GamedayReport> {
  if (drill.backup.existing) {
    throw new UsageError(`drill "${drill.name}" drills backups made elsewhere (backup.existing); gameday damages copies of firedrill's own backups, with their manifests`);
  }
  const startedAt = new Date();
  const repository = repositoryFor(options.runner, drill);
  const manifest = await selectBackup(drill, repository, options.backup ?? 'latest');
  const context: DefectContext = { drill, runner: options.runner, repository, manifest, logger: options.logger, signal: options.signal };
  const work = await createWorkDirectory('gameday');
  try {
    const outcome = await drillVariant(context, work.path, 'baseline', undefined);
    if (!('report' in outcome)) throw new Error(`gameday could not prepare the undamaged copy: ${outcome.notMade}`);
    const baseline = outcome.report;
    if (baseline.status !== 'passed') {
      throw new UsageError(
        `drill "${drill.name}" does not pass on backup ${manifest.backupId} itself (${baseline.summary}); ` +
          `a gameday needs a drill that passes on an undamaged backup: fix that first (firedrill run ${drill.name} --from-backup ${manifest.backupId})`,
      );
    }
    const defects: DefectResult[] = [];
    for (const defect of DEFECTS) {
      throwIfAborted(options.signal);
      const result = await tryDefect(context, work.path, defect);
      defects.push(result);
      options.onResult?.(result);
    }
    const applicable = defects.filter((result) => result.applicable);
    return {
      schemaVersion: GAMEDAY_SCHEMA_VERSION,
      drill: drill.name,
      backupId: manifest.backupId,
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      baseline: { status: baseline.status, runId: baseline.runId, summary: baseline.summary },
      score: {
        caught: applicable.filter((result) => result.caught).length,
        applicable: applicable.length,
        inconclusive: applicable.filter((result) => result.inconclusive).length,
      },
      defects,
    };
  } finally {
    await work.release();
  }
}

async function tryDefect(context: DefectContext, workDirectory: string, defect: Defect): Promise<DefectResult> {
  const base = { id: defect.id, description: defect.description };
  const why = defect.notApplicable(context);
  if (why) return { ...base, applicable: false, notApplicableBecause: why };
  const outcome = await drillVariant(context, workDirectory, defect.id, defect);
  if ('notMade' in outcome) return { ...base, applicable: true, inconclusive: true, suggestion: `the defect could not be made: ${outcome.notMade}` };
  const report = outcome.report;
  // By default only a failed drill caught it: an error (a sandbox that would not start) says nothing about the defect.
  const caught = defect.caught ? defect.caught(report) : report.status === 'failed';
  const result = { ...base, applicable: true, status: report.status, summary: report.summary };
  if (caught) return { ...result, caught: true, caughtBy: caughtBy(report) };
  if (report.status !== 'passed') {
    return { ...result, caught: false, inconclusive: true, suggestion: `the drill did not pass, but not by what this defect breaks (${report.summary}); run the gameday again` };
  }
  return { ...result, caught: false, suggestion: defect.suggestion(context) };
}

/**
 * Copies the backup, damages the copy, and runs the drill's restore and
 * checks on it, alone (no notifications, no history, no retention). A
 * defect that cannot be made is said, and the gameday goes on.
 */
async function drillVariant(context: DefectContext, workDirectory: string, name: string, defect: Defect | undefined): Promise<{ report: Report } | { notMade: string }> {
  const root = join(workDirectory, name);
  try {
    let copy: BackupCopy;
    try {
      copy = await copyBackup(context.repository, context.drill.name, context.manifest, join(root, 'repository'), context.signal);
    } catch (error) {
      throwIfAborted(context.signal);
      if (error instanceof FiredrillError) throw error;
      throw new RepositoryError(`gameday could not copy backup ${context.manifest.backupId} from ${context.repository.describe()}: ${errorMessage(error)}`, { cause: error });
    }
    let settings: VariantSettings = {};
    try {
      if (defect) settings = await defect.apply(context, copy);
    } catch (error) {
      throwIfAborted(context.signal);
      context.logger.warn({ defect: name, err: errorMessage(error) }, 'gameday: the defect could not be made');
      return { notMade: errorMessage(error) };
    }
    const { runner, drill } = variantConfig(context, root, settings);
    const shift = settings.clockShiftMs ?? 0;
    context.logger.info({ drill: drill.name, defect: name }, defect ? 'gameday: drilling a damaged copy' : 'gameday: drilling the undamaged copy');
    // The damaged copies are meant to fail: their runs' errors are the expected outcome, told by the gameday's own result, not logged as errors.
    const logger = context.logger.isLevelEnabled('debug') ? context.logger.child({ gameday: name }) : context.logger.child({ gameday: name }, { level: 'silent' });
    const report = await runDrill(drill, {
      runner,
      logger,
      fromBackup: context.manifest.backupId,
      signal: context.signal,
      ...(shift ? { clock: () => new Date(Date.now() + shift) } : {}),
    });
    // A stop comes back as an aborted report: it must end the gameday, not count as a defect not caught.
    throwIfAborted(context.signal);
    return { report };
  } finally {
    // One copy at a time: the work directory never holds more than one backup's worth.
    await rm(root, { recursive: true, force: true });
  }
}

/** The drill, pointed at the copy: same encoding, restore and checks; no notifications, no retention, no trend, reports in the work directory. */
function variantConfig(context: DefectContext, root: string, settings: VariantSettings): { runner: RunnerConfig; drill: DrillConfig } {
  const { encoding } = context.repository;
  const encryption = encoding.encryption ? { recipients: encoding.encryption.recipients, identity: settings.identity ?? encoding.encryption.identity } : undefined;
  const repository = {
    type: 'local',
    path: join(root, 'repository'),
    compression: encoding.compression,
    ...(encoding.compressionLevel !== undefined ? { compressionLevel: encoding.compressionLevel } : {}),
    ...(encryption ? { encryption } : {}),
  } as RepositoryConfig;
  const runner: RunnerConfig = { ...context.runner, repositories: { ...context.runner.repositories, [VARIANT_REPOSITORY]: repository }, reportsDirectory: join(root, 'reports') };
  const drill: DrillConfig = {
    ...context.drill,
    backup: { ...context.drill.backup, repository: VARIANT_REPOSITORY },
    restore: { ...context.drill.restore, damage: settings.damage },
    notify: [],
    retention: undefined,
    // Without the RTO objective: restoring copies one after another on a busy machine is slower, and a slow restore catches no defect.
    objectives: { ...context.drill.objectives, rto: undefined, rtoRegression: { ...context.drill.objectives.rtoRegression, action: 'off' } },
  };
  return { runner, drill };
}

/** `check "orders exist"`, `objective RPO`, or the error that stopped the restore. */
function caughtBy(report: Report): string {
  const checks = report.checks.filter((check) => check.status === 'failed').map((check) => `check "${check.name}"`);
  if (checks.length > 0) return checks.join(', ');
  if (report.error) return `${report.error.kind} error: ${report.error.message.split('\n')[0] ?? ''}`;
  const missed = Object.entries(report.objectives).filter(([, objective]) => objective.status === 'missed');
  return missed.length > 0 ? missed.map(([name]) => `objective ${name.toUpperCase()}`).join(', ') : report.summary;
}

