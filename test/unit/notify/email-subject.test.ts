import { describe, expect, it } from 'vitest';
import { emailSubject } from '../../../src/notify/email-notifier.ts';
import { errorReport, failedReport, notificationOf, passedReport } from './sample-report.ts';

describe('emailSubject', () => {
  it('names the status, the drill, the first failed check and the RTO against its objective', () => {
    expect(emailSubject('[firedrill]', notificationOf(failedReport()))).toBe('[firedrill] FAILED orders: check "orders exist" failed: returned 0, expected at least 1 (RTO 2m10s / 10m)');
  });

  it('counts the other failed checks after the first', () => {
    const report = failedReport();
    report.checks[1] = { ...report.checks[1]!, status: 'failed', message: 'row counts differ' };

    expect(emailSubject('[firedrill]', notificationOf(report))).toBe('[firedrill] FAILED orders: check "orders exist" failed: returned 0, expected at least 1 (+1 more) (RTO 2m10s / 10m)');
  });

  it('gives the first line of the error when the drill could not run, and no RTO when none was measured', () => {
    expect(emailSubject('[firedrill]', notificationOf(errorReport()))).toBe('[firedrill] ERROR orders: could not connect to the source orders-db.internal:5432 (ECONNREFUSED)');
  });

  it('says RECOVERED for a pass after a failure, with the number of checks that passed', () => {
    expect(emailSubject('[firedrill]', notificationOf(passedReport(), 'recovery'))).toBe('[firedrill] RECOVERED orders: 2 checks passed (RTO 12s / 10m)');
  });

  it('says PASSED for a success, and gives the RTO alone without an objective', () => {
    expect(emailSubject('[dr]', notificationOf(passedReport({ objectives: {} }), 'success'))).toBe('[dr] PASSED orders: 2 checks passed (RTO 12s)');
  });

  it('names the missed objective when every check passed, without saying the RTO twice', () => {
    const report = passedReport({
      status: 'failed',
      measured: { rtoSeconds: 750, rpoSeconds: 300, backupAgeSeconds: 300, dataAgeAtSnapshotSeconds: null },
      objectives: { rto: { limit: '10m', limitSeconds: 600, measuredSeconds: 750, status: 'missed' } },
    });

    expect(emailSubject('[firedrill]', notificationOf(report))).toBe('[firedrill] FAILED orders: RTO 12m30s exceeds 10m');
  });

  it('still gives the RTO when only another objective was missed', () => {
    const report = passedReport({
      status: 'failed',
      objectives: {
        rto: { limit: '10m', limitSeconds: 600, measuredSeconds: 12, status: 'met' },
        rpo: { limit: '1h', limitSeconds: 3600, measuredSeconds: 7200, status: 'missed' },
      },
    });

    expect(emailSubject('[firedrill]', notificationOf(report))).toBe('[firedrill] FAILED orders: RPO 2h exceeds 1h (RTO 12s / 10m)');
  });

  it('keeps a long check message to one line of about 120 characters', () => {
    const report = failedReport();
    report.checks[0] = { ...report.checks[0]!, message: `${'x'.repeat(300)}\nsecond line` };
    const subject = emailSubject('[firedrill]', notificationOf(report));

    expect(subject).not.toContain('\n');
    expect(subject).toMatch(/^\[firedrill\] FAILED orders: check "orders exist" failed: x+… \(RTO 2m10s \/ 10m\)$/);
    expect(subject.length).toBeLessThanOrEqual('[firedrill] FAILED orders: '.length + 120 + ' (RTO 2m10s / 10m)'.length);
  });
});
