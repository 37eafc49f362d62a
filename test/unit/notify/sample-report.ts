import type { Notification } from '../../../src/notify/notifier.ts';
import type { CheckRecord, Report } from '../../../src/report/report.ts';

/** Reports as a run builds them, for the notifier tests: a failed run of drill "orders", and variations. */

export const RUN_ID = '20261126T121301Z-156250';

const passedChecks: CheckRecord[] = [
  { name: 'orders exist', type: 'sql', status: 'passed', message: 'returned 5000', durationMs: 12 },
  { name: 'nothing lost', type: 'fingerprint', status: 'passed', message: 'matches the source snapshot', durationMs: 40 },
];

export function failedReport(overrides: Partial<Report> = {}): Report {
  return {
    schemaVersion: 1,
    firedrillVersion: '0.1.0',
    drill: 'orders',
    runId: RUN_ID,
    status: 'failed',
    summary: 'failed: check "orders exist" failed: returned 0, expected at least 1, RTO 2m 10s within 10m',
    startedAt: '2026-11-26T12:13:01.000Z',
    finishedAt: '2026-11-26T12:15:30.000Z',
    durationMs: 149_000,
    host: 'drill-runner-1',
    phases: [],
    checks: [
      { name: 'orders exist', type: 'sql', status: 'failed', message: 'returned 0, expected at least 1', durationMs: 12 },
      { name: 'nothing lost', type: 'fingerprint', status: 'passed', message: 'matches the source snapshot', durationMs: 40 },
    ],
    measured: { rtoSeconds: 130, rpoSeconds: 300, backupAgeSeconds: 300, dataAgeAtSnapshotSeconds: null },
    objectives: {
      rto: { limit: '10m', limitSeconds: 600, measuredSeconds: 130, status: 'met' },
      rpo: { limit: '26h', limitSeconds: 93_600, measuredSeconds: 300, status: 'met' },
    },
    backup: {
      id: '20261126T121301Z-1b0338',
      repository: 'local',
      reused: false,
      createdAt: '2026-11-26T12:13:05.000Z',
      snapshotAt: '2026-11-26T12:13:01.000Z',
      sizeBytes: 101_376,
      sha256: 'eb1656fb0c1d2e3f4a5b6c7d8e9f00112233445566778899aabbccddeeff0011',
      objects: [],
      targets: [],
    },
    ...overrides,
  };
}

export function passedReport(overrides: Partial<Report> = {}): Report {
  return failedReport({
    status: 'passed',
    summary: 'passed: 2 checks passed, RTO 12s within 10m, RPO 5m within 26h',
    checks: passedChecks,
    measured: { rtoSeconds: 12, rpoSeconds: 300, backupAgeSeconds: 300, dataAgeAtSnapshotSeconds: null },
    objectives: {
      rto: { limit: '10m', limitSeconds: 600, measuredSeconds: 12, status: 'met' },
      rpo: { limit: '26h', limitSeconds: 93_600, measuredSeconds: 300, status: 'met' },
    },
    ...overrides,
  });
}

export function errorReport(overrides: Partial<Report> = {}): Report {
  return failedReport({
    status: 'error',
    summary: 'error: could not connect to the source orders-db.internal:5432',
    checks: passedChecks.map((check) => ({ ...check, status: 'skipped', message: 'not run: the drill stopped before this check' })),
    measured: { rtoSeconds: null, rpoSeconds: null, backupAgeSeconds: null, dataAgeAtSnapshotSeconds: null },
    objectives: {
      rto: { limit: '10m', limitSeconds: 600, measuredSeconds: null, status: 'not measured' },
    },
    backup: undefined,
    error: { kind: 'backup', phase: 'backup', message: 'could not connect to the source orders-db.internal:5432 (ECONNREFUSED)\ncheck source.host' },
    ...overrides,
  });
}

export const HTML_REPORT = '<!DOCTYPE html><html><body><h1>orders: FAILED</h1><p>the full report</p></body></html>\n';

export function notificationOf(report: Report, event: Notification['event'] = report.status === 'passed' ? 'success' : 'failure'): Notification {
  return { event, report, htmlReport: HTML_REPORT, previousStatus: event === 'recovery' ? 'failed' : undefined };
}
