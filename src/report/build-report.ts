import { hostname } from 'node:os';
import type { Repository, TargetDescription } from '../interfaces.ts';
import type { DrillConfig } from '../config/load.ts';
import type { CheckResult } from '../drill/check-step.ts';
import { manifestSha256, totalSizeBytes, type Manifest, type TargetRecord } from '../repository/manifest.ts';
import { REPORT_SCHEMA_VERSION, type BackupFacts, type CheckRecord, type PhaseRecord, type Report, type RunStatus, type RunTrigger } from './report.ts';
import { AbortedError, FiredrillError, errorMessage } from '../errors.ts';
import { engineFor } from '../engines/registry.ts';
import { describeRtoRegression, judgeObjective, judgeRtoTrend, measure } from './objectives.ts';
import { formatDuration } from '../config/duration.ts';
import { redactDeep } from '../redact.ts';
import { FIREDRILL_VERSION } from '../version.ts';

/**
 * A finished run's report, from what the run gathered: the status follows
 * from the failure (if any), the checks and the objectives; secrets are
 * scrubbed from every message.
 */

interface ReportInput {
  drill: DrillConfig;
  runId: string;
  startedAt: Date;
  finishedAt: Date;
  phases: PhaseRecord[];
  /** The innermost phase the failure came out of. */
  failedPhase: string | undefined;
  manifest: Manifest | undefined;
  repository: Repository | undefined;
  checkResults: CheckResult[];
  restoreStartedAt: Date | undefined;
  /** The restore completed: there is restored data whose age (RPO) means something. */
  restored: boolean;
  verifiedAt: Date | undefined;
  restoreFacts: Report['restore'];
  failure: unknown;
  aborted: boolean;
  abortReason: unknown;
  /** The run drilled an existing backup rather than taking one. */
  reused: boolean;
  /** That backup was made elsewhere (`backup.existing`). */
  madeElsewhere: boolean;
  /** The RTOs of the drill's earlier passed runs, newest first; undefined when its history could not be read. */
  earlierPassedRtoSeconds?: number[] | undefined;
  trigger?: RunTrigger | undefined;
}

function abortMessage(reason: unknown): string {
  return typeof reason === 'string' ? `the run was aborted (${reason})` : 'the run was aborted';
}

export function buildReport(input: ReportInput): Report {
  const { drill, manifest, failure } = input;
  // A backup set is as old as its oldest part: RPO is measured from the earliest snapshot of its targets.
  const target = manifest?.targets.toSorted((a, b) => Date.parse(a.snapshotAt) - Date.parse(b.snapshotAt))[0];
  const measured =
    target && input.restoreStartedAt
      ? measure({
          restoreStartedAt: input.restoreStartedAt,
          restored: input.restored,
          verifiedAt: input.verifiedAt,
          snapshotAt: new Date(target.snapshotAt),
          snapshotAtLocal: new Date(target.snapshotAtLocal),
          newestData: input.checkResults.flatMap((result) => (result.outcome?.newestDataAt ? [result.outcome.newestDataAt] : [])),
          // A freshness check that found no timestamp (or never ran) leaves the data's age unknown.
          dataAgeUnknown: drill.checks.some(
            (config, index) => config.type === 'freshness' && input.checkResults[index]?.outcome?.newestDataAt === undefined,
          ),
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
    return { name: config.name ?? config.type, type: config.type, status: 'skipped', message: 'not run: the drill stopped before this check', durationMs: 0 };
  });

  let status: RunStatus;
  let error: Report['error'];
  // A problem found before a stop stays found: a failed check or a bad backup is not hidden by the abort.
  const provenFailure = checks.some((check) => check.status === 'failed') || (failure instanceof FiredrillError && failure.verdict === 'failed');
  if (input.aborted || failure instanceof AbortedError) {
    status = provenFailure ? 'failed' : 'aborted';
    error = { kind: 'aborted', message: failure instanceof AbortedError || failure === undefined ? abortMessage(input.abortReason) : errorMessage(failure) };
  } else if (failure !== undefined) {
    status = provenFailure ? 'failed' : failure instanceof FiredrillError ? failure.verdict : 'error';
    error = { kind: failure instanceof FiredrillError ? failure.kind : 'internal', message: errorMessage(failure) };
  } else {
    const failedCheck = checks.some((check) => check.status !== 'passed');
    const missed = Object.values(objectives).some((objective) => objective.status === 'missed');
    status = failedCheck || missed ? 'failed' : 'passed';
  }
  const regression = drill.objectives.rtoRegression;
  const warnings: string[] = [];
  let trend: Report['trend'];
  if (regression.action !== 'off' && measured.rtoSeconds !== null && input.earlierPassedRtoSeconds) {
    const rto = judgeRtoTrend(measured.rtoSeconds, input.earlierPassedRtoSeconds, { maxIncreasePercent: regression.maxIncreasePercent, action: regression.action });
    trend = { rto };
    if (rto.status === 'regressed') {
      if (regression.action === 'fail' && status === 'passed') status = 'failed';
      if (regression.action === 'warn') warnings.push(describeRtoRegression(measured.rtoSeconds, rto));
    }
  }
  if (error && input.failedPhase) error.phase = input.failedPhase;

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
    phases: input.phases,
    checks,
    measured,
    objectives,
    ...(manifest && input.repository ? { backup: backupFacts(manifest, input.repository, input.reused, input.madeElsewhere) } : {}),
    ...(input.restoreFacts ? { restore: input.restoreFacts } : {}),
    ...(error ? { error } : {}),
    ...(input.trigger ? { trigger: input.trigger } : {}),
    ...(warnings.length > 0 ? { warnings } : {}),
    ...(trend ? { trend } : {}),
  };
  report.summary = summarize(report, regression.action);
  // Check messages and facts come from servers and tools: whatever renders the report (HTML, email, Slack) starts from clean text.
  return redactDeep(report);
}

function backupFacts(manifest: Manifest, repository: Repository, reused: boolean, madeElsewhere: boolean): BackupFacts {
  return {
    id: manifest.backupId,
    repository: repository.name,
    reused,
    ...(madeElsewhere ? { madeElsewhere } : {}),
    createdAt: manifest.createdAt,
    snapshotAt: manifest.targets[0]?.snapshotAt ?? manifest.createdAt,
    sizeBytes: totalSizeBytes(manifest),
    // Without a manifest of its own, a backup made elsewhere is identified by its object's digest.
    sha256: madeElsewhere ? (manifest.objects[0]?.sha256 ?? '') : manifestSha256(manifest),
    objects: manifest.objects.map(({ name, target, sizeBytes, sha256, contentSizeBytes, compression, encryption }) => ({
      name,
      target,
      sizeBytes,
      sha256,
      ...(contentSizeBytes !== undefined ? { contentSizeBytes } : {}),
      ...(compression !== undefined ? { compression } : {}),
      ...(madeElsewhere ? {} : { encrypted: encryption !== undefined }),
    })),
    targets: manifest.targets.map((target) => ({ name: target.name, engine: target.engine, ...describeTarget(target) })),
  };
}

/**
 * One line: "passed: 3 checks passed, RTO 12s within 10m, RPO 4s within 26h",
 * or what went wrong, kept short (the details are in the report).
 */
function summarize(report: Report, regressionAction: 'warn' | 'fail' | 'off'): string {
  const failedChecks = report.checks.filter((check) => check.status === 'failed');
  const parts: string[] = [];
  const trend = report.trend?.rto;
  const regressed = trend?.status === 'regressed' && report.measured.rtoSeconds !== null;
  // A regression that fails the drill is its reason, said first; one that only warns is said after the rest.
  if (trend && regressed && regressionAction === 'fail') parts.push(describeRtoRegression(report.measured.rtoSeconds as number, trend));
  if (report.error) parts.push(firstLine(report.error.message, 300));
  if (failedChecks.length === 1) {
    parts.push(`check "${failedChecks[0]?.name}" failed: ${firstLine(failedChecks[0]?.message ?? '', 200)}`);
  } else if (failedChecks.length > 1) {
    parts.push(`${failedChecks.length} of ${report.checks.length} checks failed: ${failedChecks.map((check) => `"${check.name}"`).join(', ')}`);
  } else if (!report.error) {
    parts.push(`${report.checks.length} check${report.checks.length === 1 ? '' : 's'} passed`);
  }
  for (const [name, objective] of Object.entries(report.objectives)) {
    if (objective.measuredSeconds === null) continue;
    const measured = formatDuration(objective.measuredSeconds * 1000);
    parts.push(`${name.toUpperCase()} ${measured} ${objective.status === 'missed' ? 'exceeds' : 'within'} ${objective.limit}`);
  }
  if (trend && regressed && regressionAction === 'warn') parts.push(`RTO ${trend.increasePercent}% above its median (warning)`);
  return `${report.status}: ${parts.join(', ')}`;
}

/** The first line, or, when it only introduces a list ("invalid configuration:"), the list joined on one line. */
function firstLine(text: string, limit: number): string {
  const lines = text.split('\n');
  const first = lines[0] ?? '';
  const line = first.endsWith(':') && lines.length > 1 ? `${first} ${lines.slice(1).map((item) => item.trim()).join('; ')}` : first;
  return line.length > limit ? `${line.slice(0, limit - 1)}…` : line;
}

/** What the target's engine says of it; nothing when the manifest names an engine this firedrill does not know. */
function describeTarget(target: TargetRecord): TargetDescription {
  try {
    return engineFor(target.engine).describeTarget(target);
  } catch {
    return {};
  }
}
