import { formatBytes, formatTime, renderTable, type Output } from '../output.ts';
import { openSession, selectValidDrills, type GlobalOptions } from '../session.ts';
import { repositoryFor } from '../../repository/registry.ts';
import { readTrendWindow } from '../../report/history.ts';
import { RTO_TREND_MINIMUM_RUNS, RTO_TREND_RUNS, rtoMedian } from '../../report/objectives.ts';
import { formatDuration } from '../../config/duration.ts';
import { RepositoryError, UsageError } from '../../errors.ts';
import { EXIT } from '../exit-codes.ts';
import type { Report } from '../../report/report.ts';
import type { DrillConfig } from '../../config/load.ts';

export interface HistoryFlags {
  last?: string;
  json?: boolean;
}

const DEFAULT_RUNS = 20;
/** More than a terminal can show; bounds what is held in memory. */
const MAX_RUNS = 1000;

/**
 * `firedrill history <drill> [--last N]`: the drill's runs, newest first,
 * from this machine's reports and those kept in its repository, with the RTO
 * against its median and every regression flagged.
 */
export async function historyCommand(name: string, flags: HistoryFlags, global: GlobalOptions, output: Output): Promise<number> {
  const last = flags.last === undefined ? DEFAULT_RUNS : Number(flags.last);
  if (!Number.isInteger(last) || last < 1 || last > MAX_RUNS) throw new UsageError(`--last "${flags.last}" is not a whole number of runs from 1 to ${MAX_RUNS}`);
  const { runner, loaded } = await openSession(global, { resolveSecrets: false, defaultLogLevel: 'warn' });
  const [drill] = selectValidDrills(loaded, [name]) as [DrillConfig];

  const window = await readTrendWindow({ reportsDirectory: runner.reportsDirectory, repository: repositoryFor(runner, drill) }, drill.name, { shown: last });
  for (const problem of window.problems) output.err(`firedrill: ${problem}`);
  // Nothing found because nothing could be read is not "no runs yet".
  if (window.recent.length === 0 && window.problems.length > 0) throw new RepositoryError(`could not read the history of drill "${drill.name}" (see above)`);
  const median = rtoMedian(window.passedRtoSeconds);
  const medianOver = Math.min(window.passedRtoSeconds.length, RTO_TREND_RUNS);

  if (flags.json) {
    output.out(JSON.stringify({ drill: drill.name, rtoMedianSeconds: median, rtoMedianOverRuns: medianOver, runs: window.recent.map(historyEntry) }, null, 2));
    return EXIT.PASSED;
  }
  if (window.recent.length === 0) {
    output.out(`drill "${drill.name}" has no runs yet (run it: firedrill run ${drill.name})`);
    return EXIT.PASSED;
  }
  const rows = window.recent.map((report) => {
    const entry = historyEntry(report);
    return [
      formatTime(report.startedAt),
      report.runId,
      report.status,
      withLimit(entry.rtoSeconds, report.objectives?.rto?.limit) + (entry.rtoRegressed ? ` !+${report.trend?.rto.increasePercent}%` : ''),
      withLimit(entry.rpoSeconds, report.objectives?.rpo?.limit),
      entry.backupSizeBytes === null ? '-' : formatBytes(entry.backupSizeBytes),
      whatFailed(report, entry.failedChecks),
    ];
  });
  output.out(renderTable(['STARTED', 'RUN', 'STATUS', 'RTO', 'RPO', 'BACKUP', 'FAILED CHECKS'], rows));
  const regressions = window.recent.filter((report) => report.trend?.rto.status === 'regressed').length;
  const medianLine =
    median === null
      ? `RTO median: not enough passed runs yet (${window.passedRtoSeconds.length}; at least ${RTO_TREND_MINIMUM_RUNS} are needed)`
      : `RTO median over the last ${medianOver} passed runs: ${formatDuration(median * 1000)}`;
  output.out(`\n${medianLine}${regressions > 0 ? `; ${regressions} run${regressions === 1 ? '' : 's'} above it by more than the threshold (marked !)` : ''}`);
  return EXIT.PASSED;
}

/** The failed checks; else what failed the run without a check (an objective, the RTO trend, an error). */
function whatFailed(report: Report, failedChecks: string[]): string {
  if (failedChecks.length > 0) return failedChecks.join(', ');
  if (report.error) return `(${report.error.kind}: ${firstLine(report.error.message)})`;
  if (report.status !== 'failed') return '-';
  const missed = Object.entries(report.objectives ?? {})
    .filter(([, objective]) => objective.status === 'missed')
    .map(([objective]) => `(${objective.toUpperCase()} objective)`);
  if (report.trend?.rto.status === 'regressed' && report.trend.rto.action === 'fail') missed.push('(RTO regression)');
  return missed.join(', ') || '-';
}

function historyEntry(report: Report) {
  return {
    runId: report.runId,
    startedAt: report.startedAt,
    status: report.status,
    rtoSeconds: report.measured?.rtoSeconds ?? null,
    rpoSeconds: report.measured?.rpoSeconds ?? null,
    backupSizeBytes: report.backup?.sizeBytes ?? null,
    failedChecks: (report.checks ?? []).filter((check) => check.status === 'failed').map((check) => check.name),
    rtoRegressed: report.trend?.rto.status === 'regressed',
    ...(report.error ? { error: { kind: report.error.kind, message: report.error.message } } : {}),
  };
}

/** `12s / 10m`, `12s`, or `-` when not measured. */
function withLimit(seconds: number | null, limit: string | undefined): string {
  if (seconds === null) return '-';
  const measured = formatDuration(seconds * 1000);
  return limit ? `${measured} / ${limit}` : measured;
}

function firstLine(text: string): string {
  const line = text.split('\n')[0] ?? '';
  return line.length > 60 ? `${line.slice(0, 59)}…` : line;
}
