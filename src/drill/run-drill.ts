import type { Logger } from '../logger.ts';
import type { Reporter, Repository } from '../interfaces.ts';
import type { DrillConfig, RunnerConfig } from '../config/load.ts';
import type { Manifest } from '../repository/manifest.ts';
import type { NotificationRecord, Report, RunTrigger } from '../report/report.ts';
import { RepositoryError, errorMessage } from '../errors.ts';
import { readTrendWindow } from '../report/history.ts';
import { HISTORY_STRIP_RUNS, renderHtmlReport } from '../report/html-report.ts';
import type { NotifierContext } from '../notify/notifier.ts';
import { createNotifier, eventFor, wants } from '../notify/registry.ts';
import { sendNotifications } from '../notify/notify-step.ts';
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
  /** The run's id, when the caller names it before the run starts (the scheduler, to answer for a queued run). */
  runId?: string | undefined;
  /** What started the run, for the report. (Default: the command line) */
  trigger?: RunTrigger | undefined;
}

export async function runDrill(drill: DrillConfig, options: RunDrillOptions): Promise<Report> {
  const clock = options.clock ?? (() => new Date());
  const startedAt = clock();
  const runId = options.runId ?? newId(startedAt);
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
      ...(restored.sandbox
        ? { description: restored.sandbox.description, serverVersion: restored.sandbox.serverVersion, ...(restored.sandbox.image ? { image: restored.sandbox.image } : {}) }
        : {}),
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

  // A repository that could not be reached is not asked again, for history or to keep the report of that failure.
  const unreachable = failure instanceof RepositoryError && !manifest && !drill.backup.existing;
  const resultsRepository = unreachable ? undefined : resultsRepositoryFor(options.runner, drill, repository, logger);
  const historySources = { reportsDirectory: options.runner.reportsDirectory, repository: resultsRepository };
  // The history that judges this run (RTO trend) and tells a recovery, read once the resources are released;
  // not at all when nothing needs it, or when the run was stopped (the user wants it to end).
  const needsHistory = (drill.objectives.rtoRegression.action !== 'off' || drill.notify.length > 0) && !abort.signal.aborted;
  const history = needsHistory ? await readTrendWindow(historySources, drill.name, { shown: HISTORY_STRIP_RUNS, signal: abort.signal }) : undefined;
  for (const problem of history?.problems ?? []) logger.warn(problem);

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
    earlierPassedRtoSeconds: history?.passedRtoSeconds,
    trigger: options.trigger ?? { kind: 'cli' },
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
  for (const warning of report.warnings ?? []) logger.warn(warning);

  await publish(report, options.reporters ?? [], resultsRepository, logger);

  // Notifying can take minutes of retries: the report is kept first, then kept again with what each notifier did.
  if (history && report.status !== 'aborted') {
    try {
      const notifications = await notify(drill, options.runner, report, history.recent, { logger, signal: options.signal ?? new AbortController().signal });
      if (notifications.length > 0) {
        report.notifications = notifications;
        await publish(report, options.reporters ?? [], resultsRepository, logger);
      }
    } catch (error) {
      // Like a reporter, notifying never changes or hides the drill's outcome.
      logger.error({ err: errorMessage(error) }, 'notifying failed');
    }
  }
  return report;
}

/** The report to every reporter (local files) and beside the backups. A failure is logged: it never changes or hides the drill's outcome. */
async function publish(report: Report, reporters: Reporter[], resultsRepository: Repository | undefined, logger: Logger): Promise<void> {
  for (const reporter of reporters) {
    try {
      await reporter.publish(report);
    } catch (error) {
      logger.error({ reporter: reporter.name, err: errorMessage(error) }, `reporter ${reporter.name} failed`);
    }
  }
  if (resultsRepository) await keepRunResult(resultsRepository, report, logger);
}

/** Where the drill's run results live: its own repository (for drills of backups made elsewhere, `backup.repository`, not theirs). */
function resultsRepositoryFor(runner: RunnerConfig, drill: DrillConfig, repository: Repository | undefined, logger: Logger): Repository | undefined {
  if (!drill.backup.existing) return repository;
  try {
    return repositoryFor(runner, drill);
  } catch (error) {
    logger.error({ err: errorMessage(error) }, 'cannot open the repository that keeps the run results');
    return undefined;
  }
}

/** Tells the drill's notifiers, each that wants this run's event; what each did goes into the report. */
async function notify(drill: DrillConfig, runner: RunnerConfig, report: Report, history: Report[], context: NotifierContext): Promise<NotificationRecord[]> {
  // An interrupted run says nothing about the backup: a pass after one is no recovery, a failure after one is still news.
  const previousStatus = history.find((earlier) => earlier.status !== 'aborted')?.status;
  const event = eventFor(report.status, previousStatus);
  // Loading the drill already refused notifiers that cannot be made (email without smtp).
  const notifiers = drill.notify.map((config, index) => createNotifier(config, runner, { file: drill.file, path: `notify[${index}]` }));
  if (!notifiers.some((notifier) => wants(notifier, event))) return [];
  // Rendered only when someone is told: the HTML report rides along with emails.
  const htmlReport = renderHtmlReport(report, history);
  return sendNotifications(notifiers, { event, report, htmlReport, previousStatus }, context);
}

/**
 * The run's report beside the drill's backups: retention reads which backups
 * passed from there, wherever it runs. A drill of backups made elsewhere
 * keeps it in its own repository (backup.repository), not among those backups.
 */
async function keepRunResult(repository: Repository, report: Report, logger: Logger): Promise<void> {
  try {
    await repository.saveRunResult(report.drill, report.runId, `${renderReportJson(report)}\n`);
  } catch (error) {
    logger.error({ err: errorMessage(error) }, `could not keep the run's result in ${repository.describe()}`);
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
