import type { Logger } from '../logger.ts';
import type { Reporter, Repository } from '../interfaces.ts';
import type { DrillConfig, RunnerConfig } from '../config/load.ts';
import type { Manifest } from '../repository/manifest.ts';
import type { Report } from '../report/report.ts';
import { errorMessage } from '../errors.ts';
import { repositoryFor } from '../repository/registry.ts';
import { sandboxFor } from '../sandbox/registry.ts';
import { createCheck } from '../checks/registry.ts';
import { DrillRunContext } from './run-context.ts';
import { onAbort } from '../abort.ts';
import { selectBackup, takeBackup } from './backup-step.ts';
import { restoreBackup } from './restore-step.ts';
import { existingRepositoryFor, selectExistingBackup } from './existing-backup.ts';
import { runChecks, type CheckResult } from './check-step.ts';
import { newId } from './ids.ts';
import { buildReport } from '../report/build-report.ts';
import { renderReportJson } from '../report/json-file-reporter.ts';
import { pruneBackups } from '../repository/prune.ts';
import { describeRetention, type RetentionPolicy } from '../repository/retention.ts';

/**
 * One drill, end to end: backup (or pick an existing one) → fetch and verify
 * → sandbox → restore → checks → RTO/RPO → report. Whatever happens, every
 * resource is released before the report is written, and the report is
 * always produced: a drill that could not run says why.
 */

export interface RunDrillOptions {
  runner: RunnerConfig;
  logger: Logger;
  /** `latest` or a backup id: drill an existing backup instead of taking one. */
  fromBackup?: string | undefined;
  signal?: AbortSignal;
  reporters?: Reporter[];
  /** The clock; tests replace it. */
  clock?: () => Date;
}

export async function runDrill(drill: DrillConfig, options: RunDrillOptions): Promise<Report> {
  const clock = options.clock ?? (() => new Date());
  const startedAt = clock();
  const runId = newId(startedAt);
  const logger = options.logger.child({ drill: drill.name, runId });
  const abort = new AbortController();
  const stopForwarding = onAbort(options.signal, () => abort.abort(options.signal?.reason));
  const context = new DrillRunContext({ runId, drillName: drill.name, logger, signal: abort.signal, clock });

  let manifest: Manifest | undefined;
  let repository: Repository | undefined;
  const checkResults: CheckResult[] = [];
  let restoreStartedAt: Date | undefined;
  let verifiedAt: Date | undefined;
  let restoredOk = false;
  let restoreFacts: Report['restore'];
  let failure: unknown;
  logger.info({ fromBackup: options.fromBackup }, 'drill started');
  try {
    // A drill of backups made elsewhere reads them, and keeps its results, where they are.
    repository = drill.backup.existing ? existingRepositoryFor(options.runner, drill) : repositoryFor(options.runner, drill);
    const sandbox = sandboxFor(options.runner, drill);
    const checks = drill.checks.map((check) => createCheck(check, { jobs: drill.restore.jobs }));
    const from = repository;
    manifest = drill.backup.existing
      ? await context.phase('select-backup', () => selectExistingBackup(drill, from, options.fromBackup, { now: clock(), random: Math.random }))
      : options.fromBackup
        ? await context.phase('select-backup', () => selectBackup(drill, from, options.fromBackup as string))
        : await context.phase('backup', () => takeBackup(context, drill, from));
    const backup = manifest;

    restoreStartedAt = clock();
    restoreFacts = { sandbox: drill.restore.sandbox, jobs: drill.restore.jobs };
    const restored = await context.phase('restore', () => restoreBackup(context, drill, backup, from, sandbox));
    restoredOk = true;
    restoreFacts = {
      ...restoreFacts,
      ...(restored.sandbox ? { description: restored.sandbox.description, serverVersion: restored.sandbox.serverVersion } : {}),
      targets: restored.targets.map((target) => ({ name: target.record.name, into: target.sandbox?.description ?? 'a throwaway directory' })),
    };
    await context.phase('checks', () => runChecks(context, checks, restored.targets, checkResults));
    if (checkResults.every((result) => result.record.status === 'passed')) verifiedAt = clock();
  } catch (error) {
    failure = error;
  } finally {
    stopForwarding();
    await context.releasers.releaseAll();
  }

  const report = buildReport({
    drill,
    runId,
    startedAt,
    finishedAt: clock(),
    phases: context.phases,
    failedPhase: context.phaseOf(failure),
    manifest,
    repository,
    checkResults,
    restoreStartedAt,
    restored: restoredOk,
    verifiedAt,
    restoreFacts,
    failure,
    aborted: abort.signal.aborted,
    abortReason: abort.signal.reason,
    reused: options.fromBackup !== undefined || drill.backup.existing !== undefined,
    madeElsewhere: drill.backup.existing !== undefined,
  });
  // Only after a backup this run took and committed: a failed backup never makes room by deleting older ones.
  if (repository && manifest && !options.fromBackup && !drill.backup.existing && drill.retention && !abort.signal.aborted) {
    report.retention = await applyRetention(repository, drill.name, drill.retention, {
      now: clock(),
      // This run's result is kept below, after the report is complete: its verdict counts already.
      passedBackup: report.status === 'passed' ? manifest.backupId : undefined,
      logger,
    });
  }
  logger[report.status === 'passed' ? 'info' : 'error']({ status: report.status }, report.summary);
  for (const reporter of options.reporters ?? []) {
    try {
      await reporter.publish(report);
    } catch (error) {
      // A reporter that fails never changes or hides the drill's outcome.
      logger.error({ reporter: reporter.name, err: errorMessage(error) }, `reporter ${reporter.name} failed`);
    }
  }
  if (manifest) await keepRunResult(() => (drill.backup.existing ? repositoryFor(options.runner, drill) : repository), report, logger);
  return report;
}

/**
 * The run's report beside the drill's backups: retention reads which backups
 * passed from there, wherever it runs. A drill of backups made elsewhere
 * keeps it in its own repository (backup.repository), not among those backups.
 */
async function keepRunResult(repositoryOf: () => Repository | undefined, report: Report, logger: Logger): Promise<void> {
  let repository: Repository | undefined;
  try {
    repository = repositoryOf();
    if (!repository) return;
    await repository.saveRunResult(report.drill, report.runId, `${renderReportJson(report)}\n`);
  } catch (error) {
    logger.error({ err: errorMessage(error) }, `could not keep the run's result in ${repository?.describe() ?? 'the repository'}`);
  }
}

async function applyRetention(
  repository: Repository,
  drill: string,
  policy: RetentionPolicy,
  options: { now: Date; passedBackup: string | undefined; logger: Logger },
): Promise<NonNullable<Report['retention']>> {
  const described = describeRetention(policy);
  try {
    const result = await pruneBackups(repository, drill, policy, { now: options.now, dryRun: false, logger: options.logger, passedBackup: options.passedBackup });
    if (result.deleted.length > 0) options.logger.info({ deleted: result.deleted, policy: described }, 'pruned backups by the retention policy');
    for (const problem of result.problems) options.logger.error(problem);
    return { policy: described, removed: result.deleted, problems: result.problems };
  } catch (error) {
    // Pruning is housekeeping: a failure is reported and retried at the next run, never a failed drill.
    const problem = `could not apply the retention policy in ${repository.describe()}: ${errorMessage(error)}`;
    options.logger.error(problem);
    return { policy: described, removed: [], problems: [problem] };
  }
}
