import { hostname } from 'node:os';
import type { Logger } from '../logger.ts';
import type { Reporter, Repository } from '../interfaces.ts';
import type { DrillConfig, RunnerConfig } from '../config/load.ts';
import { manifestSha256, totalSizeBytes, type Manifest } from '../repository/manifest.ts';
import { REPORT_SCHEMA_VERSION, type BackupFacts, type CheckRecord, type Report, type RunStatus } from '../report/report.ts';
import { AbortedError, FiredrillError, errorMessage } from '../errors.ts';
import { repositoryFor } from '../repository/registry.ts';
import { createSandbox } from '../sandbox/registry.ts';
import { createCheck } from '../checks/registry.ts';
import { postgresMetadataSchema } from '../engines/postgres/postgres-engine.ts';
import { redactText } from '../redact.ts';
import { FIREDRILL_VERSION } from '../version.ts';
import { formatDuration } from '../config/duration.ts';
import { DrillRunContext } from './run-context.ts';
import { onAbort } from '../abort.ts';
import { selectBackup, takeBackup } from './backup-step.ts';
import { restoreBackup } from './restore-step.ts';
import { runChecks, type CheckResult } from './check-step.ts';
import { judgeObjective, measure } from './objectives.ts';
import { newId } from './ids.ts';

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
  let checkResults: CheckResult[] = [];
  let restoreStartedAt: Date | undefined;
  let verifiedAt: Date | undefined;
  let restoreFacts: Report['restore'];
  let failure: unknown;
  logger.info({ fromBackup: options.fromBackup }, 'drill started');
  try {
    repository = repositoryFor(options.runner, drill);
    const sandbox = createSandbox(drill.restore.sandbox, options.runner.sandboxes[drill.restore.sandbox] as never, { cwd: options.runner.cwd });
    const checks = drill.checks.map((check) => createCheck(check, { jobs: drill.restore.jobs }));
    const from = repository;
    manifest = options.fromBackup
      ? await context.phase('select-backup', () => selectBackup(drill, from, options.fromBackup as string))
      : await context.phase('backup', () => takeBackup(context, drill, from));
    const backup = manifest;

    restoreStartedAt = clock();
    restoreFacts = { sandbox: drill.restore.sandbox, jobs: drill.restore.jobs };
    const restored = await context.phase('restore', () => restoreBackup(context, drill, backup, from, sandbox));
    restoreFacts = { ...restoreFacts, description: restored.sandbox.description, serverVersion: restored.sandbox.serverVersion };
    checkResults = await context.phase('checks', () => runChecks(context, checks, restored.target, restored.restored));
    if (checkResults.every((result) => result.record.status === 'passed')) verifiedAt = clock();
  } catch (error) {
    failure = error;
  } finally {
    stopForwarding();
    await context.releasers.releaseAll();
  }

  const report = buildReport({ drill, runId, startedAt, finishedAt: clock(), context, manifest, repository, checkResults, restoreStartedAt, verifiedAt, restoreFacts, failure, aborted: abort.signal.aborted, abortReason: abort.signal.reason, reused: options.fromBackup !== undefined });
  logger[report.status === 'passed' ? 'info' : 'error']({ status: report.status }, report.summary);
  for (const reporter of options.reporters ?? []) {
    try {
      await reporter.publish(report);
    } catch (error) {
      // A reporter that fails never changes or hides the drill's outcome.
      logger.error({ reporter: reporter.name, err: errorMessage(error) }, `reporter ${reporter.name} failed`);
    }
  }
  return report;
}

interface ReportInput {
  drill: DrillConfig;
  runId: string;
  startedAt: Date;
  finishedAt: Date;
  context: DrillRunContext;
  manifest: Manifest | undefined;
  repository: Repository | undefined;
  checkResults: CheckResult[];
  restoreStartedAt: Date | undefined;
  verifiedAt: Date | undefined;
  restoreFacts: Report['restore'];
  failure: unknown;
  aborted: boolean;
  abortReason: unknown;
  /** The run drilled an existing backup rather than taking one. */
  reused: boolean;
}

function abortMessage(reason: unknown): string {
  return typeof reason === 'string' ? `the run was aborted (${reason})` : 'the run was aborted';
}

function buildReport(input: ReportInput): Report {
  const { drill, manifest, failure } = input;
  const target = manifest?.targets[0];
  const measured =
    target && input.restoreStartedAt
      ? measure({
          restoreStartedAt: input.restoreStartedAt,
          verifiedAt: input.verifiedAt,
          snapshotAt: new Date(target.snapshotAt),
          snapshotAtLocal: new Date(target.snapshotAtLocal),
          newestData: input.checkResults.flatMap((result) => (result.outcome?.newestDataAt ? [result.outcome.newestDataAt] : [])),
        })
      : { rtoSeconds: null, rpoSeconds: null, backupAgeSeconds: null, dataAgeAtSnapshotSeconds: null };
  const objectives: Report['objectives'] = {};
  const rto = judgeObjective(drill.objectives.rto, measured.rtoSeconds);
  const rpo = judgeObjective(drill.objectives.rpo, measured.rpoSeconds);
  if (rto) objectives.rto = rto;
  if (rpo) objectives.rpo = rpo;

  const checks: CheckRecord[] = drill.checks.map((config, index) => {
    const ran = input.checkResults[index];
    if (ran) return ran.record;
    return { name: config.name ?? config.type, type: config.type, status: 'skipped', message: 'not run: the drill stopped before the checks', durationMs: 0 };
  });

  let status: RunStatus;
  let error: Report['error'];
  if (input.aborted || failure instanceof AbortedError) {
    // Whatever else happened, a run that was told to stop did not prove anything.
    status = 'aborted';
    error = { kind: 'aborted', message: redactText(failure instanceof AbortedError || failure === undefined ? abortMessage(input.abortReason) : errorMessage(failure)) };
  } else if (failure !== undefined) {
    status = failure instanceof FiredrillError ? failure.verdict : 'error';
    error = { kind: failure instanceof FiredrillError ? failure.kind : 'internal', message: redactText(errorMessage(failure)) };
  } else {
    const failedCheck = checks.some((check) => check.status !== 'passed');
    const missed = Object.values(objectives).some((objective) => objective.status === 'missed');
    status = failedCheck || missed ? 'failed' : 'passed';
  }
  const phase = input.context.phaseOf(failure);
  if (error && phase) error.phase = phase;

  const report: Report = {
    schemaVersion: REPORT_SCHEMA_VERSION,
    firedrillVersion: FIREDRILL_VERSION,
    drill: drill.name,
    runId: input.runId,
    status,
    summary: '',
    startedAt: input.startedAt.toISOString(),
    finishedAt: input.finishedAt.toISOString(),
    durationMs: input.finishedAt.getTime() - input.startedAt.getTime(),
    host: hostname(),
    phases: input.context.phases,
    checks,
    measured,
    objectives,
    ...(manifest && input.repository ? { backup: backupFacts(manifest, input.repository, input.reused) } : {}),
    ...(input.restoreFacts ? { restore: input.restoreFacts } : {}),
    ...(error ? { error } : {}),
  };
  report.summary = summarize(report);
  return report;
}

function backupFacts(manifest: Manifest, repository: Repository, reused: boolean): BackupFacts {
  return {
    id: manifest.backupId,
    repository: repository.name,
    reused,
    createdAt: manifest.createdAt,
    snapshotAt: manifest.targets[0]?.snapshotAt ?? manifest.createdAt,
    sizeBytes: totalSizeBytes(manifest),
    sha256: manifestSha256(manifest),
    objects: manifest.objects.map(({ name, target, sizeBytes, sha256 }) => ({ name, target, sizeBytes, sha256 })),
    targets: manifest.targets.map((target) => {
      const metadata = postgresMetadataSchema.safeParse(target.metadata);
      return metadata.success
        ? {
            name: target.name,
            engine: target.engine,
            source: metadata.data.source.description,
            serverVersion: metadata.data.server.version,
            tool: metadata.data.tool.name,
            toolVersion: metadata.data.tool.version,
          }
        : { name: target.name, engine: target.engine };
    }),
  };
}

/** "passed: 3 checks passed, RTO 12s (objective 10m), RPO 4s (objective 1d 2h)" */
function summarize(report: Report): string {
  if (report.error) return `${report.status}: ${report.error.message.split('\n')[0]}`;
  const failedChecks = report.checks.filter((check) => check.status === 'failed');
  const parts: string[] = [];
  if (failedChecks.length > 0) parts.push(failedChecks.map((check) => `check "${check.name}" failed: ${check.message}`).join('; '));
  else parts.push(`${report.checks.length} check${report.checks.length === 1 ? '' : 's'} passed`);
  for (const [name, objective] of Object.entries(report.objectives)) {
    const measured = objective.measuredSeconds === null ? 'not measured' : formatDuration(objective.measuredSeconds * 1000);
    parts.push(`${name.toUpperCase()} ${measured} ${objective.status === 'missed' ? 'exceeds' : 'within'} ${objective.limit}`);
  }
  return `${report.status}: ${parts.join(', ')}`;
}
