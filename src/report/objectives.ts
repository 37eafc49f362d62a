import type { ObjectiveRecord, Report, RtoTrend } from './report.ts';
import { formatDuration } from '../config/duration.ts';

/**
 * RTO and RPO, measured and judged. Pure functions: the clock readings come in
 * as arguments, so tests need no real waiting.
 *
 * RPO is the age of the restored data at the start of the restore: how old
 * the backup was then (firedrill's clock at the snapshot, so no skew with the
 * source), plus how old the newest data already was at the snapshot (from
 * freshness checks, on the source's clock). Without a freshness check only
 * the backup's age counts.
 */

export interface Measurements {
  restoreStartedAt: Date;
  /** Whether the restore completed: without restored data there is no data age to measure. */
  restored: boolean;
  /** Undefined when the restore never got verified (it failed, or checks failed). */
  verifiedAt: Date | undefined;
  snapshotAt: Date;
  snapshotAtLocal: Date;
  /** Newest data timestamps found by freshness checks. */
  newestData: Date[];
  /** A freshness check is configured but found no timestamp: the data's age, and so RPO, is unknown. */
  dataAgeUnknown?: boolean;
}

export function measure(input: Measurements): Report['measured'] {
  const backupAgeSeconds = Math.max(0, (input.restoreStartedAt.getTime() - input.snapshotAtLocal.getTime()) / 1000);
  const dataAgeAtSnapshotSeconds =
    input.newestData.length > 0
      ? // The stalest of the measured tables decides: that is how much of it would be lost.
        Math.max(...input.newestData.map((newest) => Math.max(0, (input.snapshotAt.getTime() - newest.getTime()) / 1000)))
      : null;
  return {
    rtoSeconds: input.verifiedAt ? round((input.verifiedAt.getTime() - input.restoreStartedAt.getTime()) / 1000) : null,
    rpoSeconds: input.restored && !input.dataAgeUnknown ? round(backupAgeSeconds + (dataAgeAtSnapshotSeconds ?? 0)) : null,
    backupAgeSeconds: round(backupAgeSeconds),
    dataAgeAtSnapshotSeconds: dataAgeAtSnapshotSeconds === null ? null : round(dataAgeAtSnapshotSeconds),
  };
}

export function judgeObjective(limitMs: number | undefined, measuredSeconds: number | null): ObjectiveRecord | undefined {
  if (limitMs === undefined) return undefined;
  const limitSeconds = limitMs / 1000;
  const status = measuredSeconds === null ? 'not measured' : measuredSeconds <= limitSeconds ? 'met' : 'missed';
  return { limit: formatDuration(limitMs), limitSeconds, measuredSeconds, status };
}

/** How many earlier passed runs the RTO median is over, and how few make one worth judging. */
export const RTO_TREND_RUNS = 10;
export const RTO_TREND_MINIMUM_RUNS = 3;

/**
 * This run's RTO against the median of the drill's last passed runs: a
 * restore that slowly got twice as slow is a finding long before it misses
 * the objective. The median, not the mean, so one slow run (a busy host)
 * does not hide the next regression. Runs that did not pass are left out:
 * their RTO is unmeasured or measures a failure.
 */
export function judgeRtoTrend(rtoSeconds: number | null, earlierPassedRtoSeconds: number[], settings: { maxIncreasePercent: number; action: 'warn' | 'fail' }): RtoTrend {
  const { maxIncreasePercent, action } = settings;
  const recent = earlierPassedRtoSeconds.slice(0, RTO_TREND_RUNS);
  const medianSeconds = rtoMedian(recent);
  const increasePercent = rtoSeconds !== null && medianSeconds !== null && medianSeconds > 0 ? Math.round(((rtoSeconds - medianSeconds) / medianSeconds) * 1000) / 10 : null;
  const status: RtoTrend['status'] =
    rtoSeconds === null ? 'not measured' : medianSeconds === null ? 'insufficient history' : increasePercent !== null && increasePercent > maxIncreasePercent ? 'regressed' : 'ok';
  return { medianSeconds, basedOnRuns: recent.length, increasePercent, maxIncreasePercent, action, status };
}

/** The median of the newest RTO_TREND_RUNS passed runs' RTOs (newest first), or null with fewer than 3. */
export function rtoMedian(passedRtoSeconds: number[]): number | null {
  const recent = passedRtoSeconds.slice(0, RTO_TREND_RUNS);
  return recent.length >= RTO_TREND_MINIMUM_RUNS ? round(median(recent)) : null;
}

/** `RTO 30s is 150% above its median of 12s over the last 10 passed runs (threshold 50%)`. */
export function describeRtoRegression(rtoSeconds: number, trend: RtoTrend): string {
  return (
    `RTO ${formatDuration(rtoSeconds * 1000)} is ${trend.increasePercent}% above its median of ${formatDuration((trend.medianSeconds ?? 0) * 1000)} ` +
    `over the last ${trend.basedOnRuns} passed runs (objectives.rtoRegression allows ${trend.maxIncreasePercent}%)`
  );
}

function median(values: number[]): number {
  const sorted = values.toSorted((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

function round(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}
