import { describe, expect, it } from 'vitest';
import { drillJson, parseLimit, reportPageLink, runSummary } from '../../../src/server/api.ts';
import type { DrillConfig } from '../../../src/config/load.ts';
import { REPORT_SCHEMA_VERSION, type Report } from '../../../src/report/report.ts';

const REPORT: Report = {
  schemaVersion: REPORT_SCHEMA_VERSION,
  firedrillVersion: '0.1.0',
  drill: 'orders',
  runId: '20261126T031500Z-3f9a1c',
  status: 'passed',
  summary: 'passed: 2 checks passed',
  startedAt: '2026-11-26T03:15:00.000Z',
  finishedAt: '2026-11-26T03:17:00.000Z',
  durationMs: 120_000,
  host: 'runner',
  phases: [{ name: 'backup', startedAt: '2026-11-26T03:15:00.000Z', durationMs: 20_000, status: 'ok' }],
  checks: [{ name: 'orders exist', type: 'sql', status: 'passed', message: 'returned 5000', durationMs: 12 }],
  measured: { rtoSeconds: 95, rpoSeconds: 301, backupAgeSeconds: 1, dataAgeAtSnapshotSeconds: 300 },
  objectives: {},
};

describe('parseLimit', () => {
  it('takes the default without a limit, caps it at 200, and refuses anything but a positive whole number', () => {
    expect(parseLimit(null)).toBe(20);
    expect(parseLimit('5')).toBe(5);
    expect(parseLimit('200')).toBe(200);
    expect(parseLimit('100000')).toBe(200);
    for (const text of ['0', '-1', '1.5', 'ten', '', ' 5', '1e3', '99999999999']) expect(parseLimit(text), text).toBeUndefined();
  });
});

describe('run and drill JSON', () => {
  it('summarizes a run with links to its JSON and its HTML report', () => {
    expect(runSummary(REPORT)).toEqual({
      runId: '20261126T031500Z-3f9a1c',
      drill: 'orders',
      status: 'passed',
      startedAt: '2026-11-26T03:15:00.000Z',
      finishedAt: '2026-11-26T03:17:00.000Z',
      durationMs: 120_000,
      rtoSeconds: 95,
      rpoSeconds: 301,
      summary: 'passed: 2 checks passed',
      links: { report: '/api/runs/20261126T031500Z-3f9a1c', html: '/reports/orders/20261126T031500Z-3f9a1c.html' },
    });
    expect(reportPageLink('a b', 'x/y')).toBe('/reports/a%20b/x%2Fy.html');
  });

  it('describes a drill the scheduler does not know yet as idle, from its config', () => {
    const drill = { name: 'orders', schedule: '0 3 * * *', objectives: { rto: 600_000 } } as unknown as DrillConfig;
    expect(drillJson({ drill, scheduled: undefined, recent: [], problems: [] })).toEqual({
      name: 'orders',
      description: null,
      schedule: '0 3 * * *',
      timezone: null,
      nextRunAt: null,
      activity: 'idle',
      runId: null,
      objectives: { rtoSeconds: 600, rpoSeconds: null },
      lastRun: null,
      problems: [],
    });
  });
});
