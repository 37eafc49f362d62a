import type { ObjectiveRecord, Report } from './report.ts';
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

function round(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}
