import { describe, expect, it } from 'vitest';
import { buildSlackPayload, buildWebhookPayload } from '../../../src/notify/webhook-payload.ts';
import { errorReport, failedReport, notificationOf, passedReport, RUN_ID } from './sample-report.ts';

describe('buildWebhookPayload', () => {
  it('summarizes a failed run: objectives, failed checks, backup, no error', () => {
    expect(buildWebhookPayload(notificationOf(failedReport()))).toEqual({
      schemaVersion: 1,
      event: 'failure',
      drill: 'orders',
      runId: RUN_ID,
      status: 'failed',
      previousStatus: null,
      summary: 'failed: check "orders exist" failed: returned 0, expected at least 1, RTO 2m 10s within 10m',
      startedAt: '2026-11-26T12:13:01.000Z',
      finishedAt: '2026-11-26T12:15:30.000Z',
      durationMs: 149_000,
      rto: { measuredSeconds: 130, limitSeconds: 600, status: 'met' },
      rpo: { measuredSeconds: 300, limitSeconds: 93_600, status: 'met' },
      failedChecks: [{ name: 'orders exist', message: 'returned 0, expected at least 1' }],
      moreFailedChecks: 0,
      backup: { id: '20261126T121301Z-1b0338', sizeBytes: 101_376, sha256: 'eb1656fb0c1d2e3f4a5b6c7d8e9f00112233445566778899aabbccddeeff0011' },
      error: null,
      firedrillVersion: '0.1.0',
      host: 'drill-runner-1',
    });
  });

  it('gives the error and no backup when the drill could not run, and says when there is no objective', () => {
    const payload = buildWebhookPayload(notificationOf(errorReport()));

    expect(payload).toMatchObject({
      status: 'error',
      backup: null,
      error: { kind: 'backup', message: 'could not connect to the source orders-db.internal:5432 (ECONNREFUSED)\ncheck source.host' },
      rto: { measuredSeconds: null, limitSeconds: 600, status: 'not measured' },
      rpo: { measuredSeconds: null, limitSeconds: null, status: 'no objective' },
      failedChecks: [],
    });
  });

  it('names the previous status of a recovery', () => {
    expect(buildWebhookPayload(notificationOf(passedReport(), 'recovery'))).toMatchObject({ event: 'recovery', status: 'passed', previousStatus: 'failed' });
  });

  it('lists at most 50 failed checks, counts the rest, and cuts each message at 2,000 characters', () => {
    const report = failedReport({ summary: 's'.repeat(5000), error: { kind: 'restore', message: 'e'.repeat(5000) } });
    report.checks = Array.from({ length: 80 }, (_, index) => ({ name: `check ${index}`, type: 'sql', status: 'failed' as const, message: 'm'.repeat(3000), durationMs: 1 }));
    const payload = buildWebhookPayload(notificationOf(report));

    expect(payload.failedChecks).toHaveLength(50);
    expect(payload.moreFailedChecks).toBe(30);
    for (const text of [payload.summary, payload.error?.message ?? '', ...payload.failedChecks.map((check) => check.message)]) {
      expect(text).toHaveLength(2000);
      expect(text.endsWith('…')).toBe(true);
    }
  });
});

describe('buildSlackPayload', () => {
  it('is a header, a section with fields, the failed checks and a context line, with a fallback text', () => {
    const payload = buildSlackPayload(notificationOf(failedReport()));

    expect(payload.text).toBe('FAILED orders: check "orders exist" failed: returned 0, expected at least 1 (RTO 2m10s / 10m)');
    expect(payload.blocks.map((block) => block.type)).toEqual(['header', 'section', 'section', 'context']);
    expect(payload.blocks[0]).toEqual({ type: 'header', text: { type: 'plain_text', text: ':x: orders: FAILED', emoji: true } });
    const fields = (payload.blocks[1] as { fields: { text: string }[] }).fields.map((field) => field.text);
    expect(fields).toEqual(['*Status*\nFAILED', '*RTO*\n2m 10s of 10m (met)', '*RPO*\n5m of 26h (met)', '*Backup*\n20261126T121301Z-1b0338, 99 KiB']);
    expect(JSON.stringify(payload.blocks[2])).toContain('*orders exist*: returned 0, expected at least 1');
    expect(JSON.stringify(payload.blocks[3])).toContain(`run ${RUN_ID} on drill-runner-1`);
  });

  it('keeps within Slack\'s limits however long the texts are', () => {
    const report = failedReport({ drill: 'd'.repeat(200), summary: 's'.repeat(5000) });
    report.checks = Array.from({ length: 100 }, (_, index) => ({ name: `check ${index}`, type: 'sql', status: 'failed' as const, message: 'm'.repeat(200), durationMs: 1 }));
    const payload = buildSlackPayload(notificationOf(report));

    for (const block of payload.blocks) {
      if (block.type === 'header') expect(block.text.text.length).toBeLessThanOrEqual(150);
      if (block.type === 'section') {
        expect(block.text?.text.length ?? 0).toBeLessThanOrEqual(3000);
        expect(block.fields?.length ?? 0).toBeLessThanOrEqual(10);
      }
    }
  });

  it('escapes Slack markup in messages: a check message cannot ping the channel', () => {
    const report = failedReport();
    report.checks[0] = { ...report.checks[0]!, message: 'found <!channel> & <https://evil.example|click>' };

    expect(JSON.stringify(buildSlackPayload(notificationOf(report)))).toContain('found &lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;');
  });

  it('says RECOVERED and names the previous status for a recovery', () => {
    const payload = buildSlackPayload(notificationOf(passedReport(), 'recovery'));

    expect(payload.blocks[0]).toMatchObject({ text: { text: ':white_check_mark: orders: RECOVERED' } });
    expect(JSON.stringify(payload.blocks[1])).toContain('RECOVERED (previous run: failed)');
  });
});
