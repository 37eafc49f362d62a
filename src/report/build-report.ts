import { hostname } from 'node:os';
import type { Repository } from '../interfaces.ts';
import type { DrillConfig } from '../config/load.ts';
import type { CheckResult } from '../drill/check-step.ts';
import { manifestSha256, totalSizeBytes, type Manifest } from '../repository/manifest.ts';
import { REPORT_SCHEMA_VERSION, type BackupFacts, type CheckRecord, type PhaseRecord, type Report, type RunStatus } from './report.ts';
import { AbortedError, FiredrillError, errorMessage } from '../errors.ts';
import { postgresMetadataSchema } from '../engines/postgres/postgres-engine.ts';
import { judgeObjective, measure } from '../drill/objectives.ts';
import { formatDuration } from '../config/duration.ts';
import { redactText } from '../redact.ts';
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

export function buildReport(input: ReportInput): Report {
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
