import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { renderHtmlReport } from '../../../src/report/html-report.ts';
import { REPORT_SCHEMA_VERSION, type Report } from '../../../src/report/report.ts';
import { Secret } from '../../../src/secret.ts';

/**
 * The HTML report as a file that is opened from anywhere: everything from the
 * report escaped, nothing loaded from outside, no script, every section
 * there, and secrets scrubbed. How it looks is tested in a real browser
 * (test/browser/html-report.test.ts).
 */

const HOSTILE_NAME = '<script>alert(1)</script> & "quoted" \'name\'';

function passedReport(overrides: Partial<Report> = {}): Report {
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    firedrillVersion: '0.1.0',
    drill: 'orders',
    runId: '20261126T120000Z-aaaaaa',
    status: 'passed',
    summary: 'passed: 2 checks passed, RTO 40s within 10m',
    startedAt: '2026-11-26T12:00:00.000Z',
    finishedAt: '2026-11-26T12:01:00.000Z',
    durationMs: 60_000,
    host: 'ci-runner',
    phases: [
      { name: 'backup', startedAt: '2026-11-26T12:00:00.000Z', durationMs: 20_000, status: 'ok' },
      { name: 'backup.dump', startedAt: '2026-11-26T12:00:01.000Z', durationMs: 18_000, status: 'ok' },
      { name: 'restore', startedAt: '2026-11-26T12:00:20.000Z', durationMs: 30_000, status: 'ok' },
      { name: 'restore.fetch', startedAt: '2026-11-26T12:00:20.000Z', durationMs: 0, status: 'ok' },
      { name: 'checks', startedAt: '2026-11-26T12:00:50.000Z', durationMs: 10_000, status: 'ok' },
      { name: 'check:orders exist', startedAt: '2026-11-26T12:00:50.000Z', durationMs: 10_000, status: 'ok' },
    ],
    checks: [
      { name: 'orders exist', type: 'sql', status: 'passed', message: 'returned 1200', durationMs: 12 },
      { name: 'nothing lost', type: 'fingerprint', status: 'passed', message: 'matches the source snapshot', durationMs: 300 },
    ],
    measured: { rtoSeconds: 40, rpoSeconds: 360, backupAgeSeconds: 60, dataAgeAtSnapshotSeconds: 300 },
    objectives: { rto: { limit: '10m', limitSeconds: 600, measuredSeconds: 40, status: 'met' } },
    backup: {
      id: '20261126T120000Z-bbbbbb',
      repository: 'local',
      reused: false,
      createdAt: '2026-11-26T12:00:00.500Z',
      snapshotAt: '2026-11-26T12:00:01.000Z',
      sizeBytes: 1_700,
      sha256: 'c5ce3735993cbc7289b07655ea5ce9a5eaf6a8aabe4df934abed8b692596790b',
      objects: [
        { name: 'source.pgdump.zst', target: 'source', sizeBytes: 1_000, contentSizeBytes: 3_000, sha256: 'a'.repeat(64), compression: 'zstd', encrypted: true },
        { name: 'files.tar.zst', target: 'files', sizeBytes: 500, contentSizeBytes: 1_500, sha256: 'b'.repeat(64), compression: 'zstd', encrypted: true },
        // From before firedrill recorded written sizes: left out of the ratio rather than counted as incompressible.
        { name: 'old.pgdump', target: 'old', sizeBytes: 200, sha256: 'c'.repeat(64), encrypted: true },
      ],
      targets: [{ name: 'source', engine: 'postgres', source: 'postgres://app@db:5432/shop', serverVersion: '16.4', tool: 'pg_dump', toolVersion: '16.4' }],
    },
    restore: { sandbox: 'docker', jobs: 2, description: 'docker container 2e5157cab49d (postgres:16, PostgreSQL 16.4)', serverVersion: '16.4', image: 'postgres:16' },
    ...overrides,
  };
}

function failedReport(overrides: Partial<Report> = {}): Report {
  return passedReport({
    runId: '20261127T120000Z-cccccc',
    status: 'failed',
    summary: `failed: check ${HOSTILE_NAME} failed`,
    phases: [
      { name: 'restore', startedAt: '2026-11-26T12:00:00.000Z', durationMs: 30_000, status: 'ok' },
      { name: `check:${HOSTILE_NAME}`, startedAt: '2026-11-26T12:00:30.000Z', durationMs: 5_000, status: 'failed' },
    ],
    checks: [{ name: HOSTILE_NAME, type: 'sql', status: 'failed', message: 'returned 0; expected at least 1\nsecond line <b>bold?</b>', durationMs: 5_000 }],
    error: { kind: 'restore', phase: 'restore.load', message: 'pg_restore exited with status 1 & said <nothing>' },
    ...overrides,
  });
}

/** A run that could not start: no backup, no phases, no measurements. */
function errorReport(): Report {
  return passedReport({
    status: 'error',
    summary: 'error: the source did not answer',
    phases: [],
    checks: [{ name: 'orders exist', type: 'sql', status: 'skipped', message: 'not run: the drill stopped before this check', durationMs: 0 }],
    measured: { rtoSeconds: null, rpoSeconds: null, backupAgeSeconds: null, dataAgeAtSnapshotSeconds: null },
    objectives: {},
    backup: undefined,
    restore: undefined,
    error: { kind: 'config', message: 'connection refused' },
  });
}

function runsBefore(report: Report, count: number): Report[] {
  // Newest first, as the history comes.
  return Array.from({ length: count }, (_, index) => passedReport({ runId: `earlier-${String(index).padStart(2, '0')}`, status: index % 5 === 0 ? 'failed' : 'passed', drill: report.drill }));
}

function squareTitles(html: string): string[] {
  return [...html.matchAll(/<rect class="run [^"]*"[^>]*><title>([^<]*)<\/title>/g)].map((match) => match[1]!);
}

describe('renderHtmlReport', () => {
  it('escapes every piece of text from the report, so a check named <script> stays text', () => {
    const html = renderHtmlReport(failedReport({ drill: 'orders <b>&' }), []);

    expect(html).not.toMatch(/<script/i);
    expect(html).not.toContain('<b>');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quoted&quot; &#39;name&#39;');
    expect(html).toContain('<title>firedrill: orders &lt;b&gt;&amp; — FAILED</title>');
    expect(html).toContain('said &lt;nothing&gt;');
  });

  it('references nothing outside the file: no scripts, links, images, imports or URLs to fetch', () => {
    for (const html of [renderHtmlReport(passedReport(), runsBefore(passedReport(), 5)), renderHtmlReport(failedReport(), []), renderHtmlReport(errorReport(), [])]) {
      expect(html).not.toMatch(/<script|<link|<img|<iframe|<object|<embed/i);
      expect(html).not.toMatch(/\b(src|href)\s*=/i);
      expect(html).not.toMatch(/@import|url\(/i);
      expect(html).not.toMatch(/https?:\/\//i);
    }
  });

  it('opens with a status banner, a title and the schema version, and has every section a run has', () => {
    const html = renderHtmlReport(
      failedReport({
        warnings: ['RTO 40s is 60% above the median'],
        notifications: [{ notifier: 'email to oncall@example.com', type: 'email', event: 'failure', status: 'failed', attempts: 3, message: 'SMTP said 550' }],
        retention: { policy: 'keep last 7', removed: ['20261101T000000Z-dddddd'], problems: [] },
      }),
      [],
    );

    expect(html).toMatch(/^<!DOCTYPE html>/);
    expect(html).toContain('data-testid="status-banner" data-status="failed"');
    expect(html).toContain(`<meta name="firedrill-schema-version" content="${REPORT_SCHEMA_VERSION}">`);
    for (const testId of ['status-banner', 'error', 'objectives', 'warnings', 'timeline', 'checks', 'backup-facts', 'restore', 'notifications', 'retention', 'history']) {
      expect(html, testId).toContain(`data-testid="${testId}"`);
    }
    expect(html).toContain('SMTP said 550');
    expect(html).toContain('keep last 7');
  });

  it('leaves out notifications and retention when the run had none', () => {
    const html = renderHtmlReport(passedReport(), []);

    expect(html).not.toContain('data-testid="notifications"');
    expect(html).not.toContain('data-testid="retention"');
    expect(html).not.toContain('data-testid="error"');
  });

  it('shows measured values against the objectives, and measured values that have no objective', () => {
    const html = renderHtmlReport(passedReport({ trend: { rto: { medianSeconds: 30, basedOnRuns: 5, increasePercent: 33.3, maxIncreasePercent: 50, action: 'warn', status: 'ok' } } }), []);
    const objectives = html.slice(html.indexOf('data-testid="objectives"'), html.indexOf('data-testid="timeline"'));

    expect(objectives).toContain('10m');
    expect(objectives).toContain('40s');
    expect(objectives).toContain('>met<');
    // RPO has no objective here but was measured: 6m.
    expect(objectives).toMatch(/RPO.*none set.*6m.*no objective/);
    expect(objectives).toContain('this run +33% against 30s, the median of the last 5 passed runs');
  });

  it('draws one timeline bar per phase, and a zero-length phase still visibly', () => {
    const report = passedReport();
    const html = renderHtmlReport(report, []);
    const bars = [...html.matchAll(/<rect class="bar" data-phase="([^"]*)" x="([^"]*)" y="[^"]*" width="([^"]*)"/g)];

    expect(bars.map((bar) => bar[1])).toEqual(report.phases.map((phase) => phase.name));
    // backup.dump starts 1s into a 60s run and takes 18s.
    expect(bars[1]?.slice(2)).toEqual(['1.667%', '30.000%']);
    expect(bars[3]?.[3]).toBe('3');
  });

  it('copes with dozens of phases and with a run that recorded none', () => {
    const phases = Array.from({ length: 60 }, (_, index) => ({ name: `check:number ${index}`, startedAt: `2026-11-26T12:00:${String(index).padStart(2, '0')}.000Z`, durationMs: 900, status: 'ok' as const }));
    expect(renderHtmlReport(passedReport({ phases }), []).match(/<rect class="bar"/g)).toHaveLength(60);

    const html = renderHtmlReport(errorReport(), []);
    expect(html).toContain('No phases were recorded');
    expect(html).not.toContain('<svg class="timeline"');
    expect(html).toContain('No backup: the run stopped before one was taken or fetched.');
    expect(html).toContain('No run here measured an RTO');
  });

  it('keeps the line breaks of a multi-line check message', () => {
    const html = renderHtmlReport(failedReport(), []);

    expect(html).toContain('<span class="multiline">returned 0; expected at least 1\nsecond line &lt;b&gt;bold?&lt;/b&gt;</span>');
  });

  it('computes the compression ratio over the objects whose written size is known', () => {
    // (3000 + 1500) / (1000 + 500); the object without a written size is left out.
    expect(renderHtmlReport(passedReport(), [])).toContain('3.0× (4.4 KiB before compression)');

    const report = passedReport();
    const objects = report.backup!.objects.map(({ contentSizeBytes: _contentSizeBytes, ...object }) => object);
    const html = renderHtmlReport({ ...report, backup: { ...report.backup!, objects } }, []);
    expect(html).toMatch(/Compression ratio<\/dt><dd>unknown/);
  });

  it('shows the backup facts: id, SHA-256, encryption, compression, targets and the sandbox', () => {
    const html = renderHtmlReport(passedReport(), []);
    const facts = html.slice(html.indexOf('data-testid="backup-facts"'), html.indexOf('data-testid="history"'));

    for (const expected of ['20261126T120000Z-bbbbbb', 'c5ce3735993cbc7289b07655ea5ce9a5eaf6a8aabe4df934abed8b692596790b', '1.7 KiB', 'pg_dump 16.4', 'postgres:16', 'taken by this run']) {
      expect(facts).toContain(expected);
    }
    expect(facts).toMatch(/Encrypted<\/dt><dd>yes/);
    expect(facts).toMatch(/Image<\/dt><dd>postgres:16<\/dd>/);
    expect(facts).toMatch(/Compression<\/dt><dd>zstd, none/);
  });

  it('shows the last 30 runs: this run after at most 29 earlier ones, each once, oldest first', () => {
    const report = passedReport({ runId: 'this-run' });
    const earlier = runsBefore(report, 40);
    // The history may hold this run itself and the same run twice.
    const history = [report, earlier[0]!, ...earlier];

    const titles = squareTitles(renderHtmlReport(report, history));

    expect(titles).toHaveLength(30);
    expect(titles[0]).toMatch(/^earlier-28: /);
    expect(titles[28]).toMatch(/^earlier-00: FAILED/);
    expect(titles[29]).toMatch(/^this-run: PASSED, started 2026-11-26T12:00:00.000Z, RTO 40s \(this run\)$/);
  });

  it('shows a first run alone in the history', () => {
    const html = renderHtmlReport(passedReport(), []);

    expect(squareTitles(html)).toHaveLength(1);
    expect(html).toContain('This is the first recorded run of this drill.');
  });

  it('scrubs a secret that slipped into a message, also one that escaping would have changed', () => {
    const canary = Secret.fromValue(`canary-${randomUUID()}`, 'test');
    const awkward = Secret.fromValue(`canary<&>"${randomUUID()}`, 'test');
    const report = failedReport({ checks: [{ name: 'leaky', type: 'command', status: 'failed', message: `said ${canary.reveal()} and ${awkward.reveal()}`, durationMs: 1 }] });

    const html = renderHtmlReport(report, []);

    expect(html).not.toContain(canary.reveal());
    expect(html).not.toContain(awkward.reveal().slice(10));
    expect(html).toContain('said [redacted] and [redacted]');
  });
});
