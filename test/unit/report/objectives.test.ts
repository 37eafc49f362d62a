import { describe, expect, it } from 'vitest';
import { judgeObjective, judgeRtoTrend, measure, rtoMedian } from '../../../src/report/objectives.ts';

const at = (iso: string) => new Date(iso);

describe('measure', () => {
  // The backup's snapshot was taken at 02:00 on firedrill's clock; the restore started at 03:00.
  const base = {
    snapshotAtLocal: at('2024-05-01T02:00:00Z'),
    snapshotAt: at('2024-05-01T02:00:10Z'), // the source's clock runs 10s ahead
    restoreStartedAt: at('2024-05-01T03:00:00Z'),
    restored: true,
  };

  it('measures RTO from the start of the restore until it was verified', () => {
    const measured = measure({ ...base, verifiedAt: at('2024-05-01T03:04:30.250Z'), newestData: [] });

    expect(measured.rtoSeconds).toBe(270.25);
  });

  it('has no RPO when nothing was restored (a corrupt backup is not data of any age)', () => {
    expect(measure({ ...base, restored: false, verifiedAt: undefined, newestData: [] })).toMatchObject({ rpoSeconds: null, backupAgeSeconds: 3600 });
  });

  it('has no RTO when the restore was never verified', () => {
    expect(measure({ ...base, verifiedAt: undefined, newestData: [] }).rtoSeconds).toBeNull();
  });

  it('takes RPO as the backup age alone when no freshness check measured the data', () => {
    expect(measure({ ...base, verifiedAt: undefined, newestData: [] })).toEqual({
      rtoSeconds: null,
      rpoSeconds: 3600,
      backupAgeSeconds: 3600,
      dataAgeAtSnapshotSeconds: null,
    });
  });

  it('adds the stalest freshness age at the snapshot, on the source\'s clock, to the backup age', () => {
    const measured = measure({
      ...base,
      verifiedAt: undefined,
      // Newest rows 60s and 300s before the snapshot: the stalest table decides.
      newestData: [at('2024-05-01T01:59:10Z'), at('2024-05-01T01:55:10Z')],
    });

    expect(measured).toMatchObject({ backupAgeSeconds: 3600, dataAgeAtSnapshotSeconds: 300, rpoSeconds: 3900 });
  });

  it('clamps a backup taken "after" the restore started to age zero', () => {
    const measured = measure({ ...base, snapshotAtLocal: at('2024-05-01T03:00:05Z'), verifiedAt: undefined, newestData: [] });

    expect(measured).toMatchObject({ backupAgeSeconds: 0, rpoSeconds: 0 });
  });

  it('clamps data newer than the snapshot, from clock skew, to age zero', () => {
    const measured = measure({ ...base, verifiedAt: undefined, newestData: [at('2024-05-01T02:05:00Z')] });

    expect(measured).toMatchObject({ dataAgeAtSnapshotSeconds: 0, rpoSeconds: 3600 });
  });
});

describe('judgeObjective', () => {
  it('is met when the measurement is within the limit, the limit included', () => {
    expect(judgeObjective(600_000, 270.25)).toEqual({ limit: '10m', limitSeconds: 600, measuredSeconds: 270.25, status: 'met' });
    expect(judgeObjective(600_000, 600)?.status).toBe('met');
  });

  it('is missed when the measurement exceeds the limit', () => {
    expect(judgeObjective(26 * 3_600_000, 26 * 3600 + 1)).toEqual({ limit: '26h', limitSeconds: 93_600, measuredSeconds: 93_601, status: 'missed' });
  });

  it('is not measured when there is no measurement', () => {
    expect(judgeObjective(600_000, null)).toEqual({ limit: '10m', limitSeconds: 600, measuredSeconds: null, status: 'not measured' });
  });

  it('is undefined when the drill sets no limit', () => {
    expect(judgeObjective(undefined, 42)).toBeUndefined();
  });
});

describe('judgeRtoTrend', () => {
  const settings = { maxIncreasePercent: 50, action: 'warn' as const };

  it('compares the RTO with the median of the last 10 passed runs, newest first', () => {
    // 12 earlier runs: only the newest 10 count, so the two slow old ones do not raise the median.
    const earlier = [10, 12, 11, 10, 9, 13, 10, 11, 12, 10, 100, 100];

    const trend = judgeRtoTrend(16, earlier, settings);

    expect(trend).toEqual({ medianSeconds: 10.5, basedOnRuns: 10, increasePercent: 52.4, maxIncreasePercent: 50, action: 'warn', status: 'regressed' });
  });

  it('is not a regression at or below the threshold, nor when faster', () => {
    expect(judgeRtoTrend(15, [10, 10, 10], settings)).toMatchObject({ increasePercent: 50, status: 'ok' });
    expect(judgeRtoTrend(5, [10, 10, 10], settings)).toMatchObject({ increasePercent: -50, status: 'ok' });
  });

  it('judges nothing from fewer than 3 earlier passed runs', () => {
    expect(judgeRtoTrend(100, [10, 10], settings)).toMatchObject({ medianSeconds: null, basedOnRuns: 2, increasePercent: null, status: 'insufficient history' });
  });

  it('says so when this run has no RTO (it never got verified)', () => {
    expect(judgeRtoTrend(null, [10, 10, 10], settings)).toMatchObject({ medianSeconds: 10, status: 'not measured' });
  });

  it('takes the median, so one slow earlier run does not hide a regression', () => {
    expect(rtoMedian([10, 10, 500])).toBe(10);
    expect(rtoMedian([10, 20, 30, 40])).toBe(25);
  });
});
