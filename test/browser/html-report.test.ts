import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { renderHtmlReport } from '../../src/report/html-report.ts';
import { REPORT_SCHEMA_VERSION, type PhaseRecord, type Report, type RunStatus } from '../../src/report/report.ts';
import { blockNetwork, describeWithBrowser, launchBrowser } from '../support/browser.ts';

/**
 * The HTML report as a person sees it: opened from a file in real Chromium
 * with the network cut off, at a desktop width and at a phone's. What is
 * asserted is what is visible: the banner, the numbers, the bars, the table,
 * the history. Screenshots land in test-artifacts/ for a human to look at.
 */

// The tsconfig has no DOM library (firedrill runs in Node): the few browser globals the page functions below use.
declare const document: { documentElement: { scrollWidth: number } };
declare const window: { innerWidth: number };
declare function getComputedStyle(element: unknown): { backgroundColor: string; fill: string };

const ARTIFACTS = 'test-artifacts';
const FAILING_CHECK = '<script>alert(1)</script> & orders are "positive"';
const SHA256 = 'c5ce3735993cbc7289b07655ea5ce9a5eaf6a8aabe4df934abed8b692596790b';
const RUN_START = Date.parse('2026-11-26T12:00:00.000Z');

function phase(name: string, fromMs: number, durationMs: number, status: PhaseRecord['status'] = 'ok'): PhaseRecord {
  return { name, startedAt: new Date(RUN_START + fromMs).toISOString(), durationMs, status };
}

function report(status: RunStatus, overrides: Partial<Report> = {}): Report {
  const failed = status === 'failed';
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    firedrillVersion: '0.1.0',
    drill: 'orders',
    runId: `20261126T120000Z-${status}`,
    status,
    summary: failed ? `failed: 1 of 4 checks failed (${FAILING_CHECK}), RTO 2m 5s within 10m` : 'passed: 4 checks passed, RTO 1m 50s within 10m, RPO 5m within 26h',
    startedAt: new Date(RUN_START).toISOString(),
    finishedAt: new Date(RUN_START + 200_000).toISOString(),
    durationMs: 200_000,
    host: 'drill-runner-01',
    phases: [
      phase('backup', 0, 70_000),
      phase('backup.preflight', 0, 1_200),
      phase('backup.snapshot', 1_200, 0),
      phase('backup.dump', 1_300, 66_000),
      phase('backup.commit', 67_300, 2_000),
      phase('restore', 70_000, 100_000),
      phase('restore.fetch', 70_000, 8_000),
      phase('restore.sandbox', 78_000, 22_000),
      phase('restore.load', 100_000, 70_000),
      phase('checks', 170_000, 30_000, failed ? 'failed' : 'ok'),
      phase('check:orders exist', 170_000, 4_000),
      phase('check:nothing lost', 174_000, 18_000),
      phase(`check:${FAILING_CHECK}`, 192_000, 6_000, failed ? 'failed' : 'ok'),
      phase('check:data is fresh', 198_000, 2_000),
    ],
    checks: [
      { name: 'orders exist', type: 'sql', status: 'passed', message: 'returned 5000', durationMs: 4_000 },
      { name: 'nothing lost', type: 'fingerprint', status: 'passed', message: "matches the source snapshot (4 tables' row counts and 52 schema objects)", durationMs: 18_000 },
      failed
        ? { name: FAILING_CHECK, type: 'sql', status: 'failed', message: 'returned 12 rows with a price <= 0\nfirst: order 4711 & order 4712', durationMs: 6_000 }
        : { name: FAILING_CHECK, type: 'sql', status: 'passed', message: 'returned true', durationMs: 6_000 },
      { name: 'data is fresh', type: 'freshness', status: 'passed', message: 'newest data 2026-11-26T11:55:00.000Z was 5m old at the snapshot', durationMs: 2_000 },
    ],
    measured: { rtoSeconds: failed ? 125 : 110, rpoSeconds: 301, backupAgeSeconds: 1, dataAgeAtSnapshotSeconds: 300 },
    objectives: {
      rto: { limit: '10m', limitSeconds: 600, measuredSeconds: failed ? 125 : 110, status: 'met' },
      rpo: { limit: '26h', limitSeconds: 93_600, measuredSeconds: 301, status: 'met' },
    },
    backup: {
      id: '20261126T120000Z-4b743f',
      repository: 'offsite-s3',
      reused: false,
      createdAt: '2026-11-26T12:00:01.200Z',
      snapshotAt: '2026-11-26T12:00:01.250Z',
      sizeBytes: 1_288_490_189,
      sha256: SHA256,
      objects: [{ name: 'source.pgdump.zst', target: 'source', sizeBytes: 1_288_490_189, contentSizeBytes: 4_724_464_025, sha256: 'a'.repeat(64), compression: 'zstd', encrypted: true }],
      targets: [{ name: 'source', engine: 'postgres', source: 'postgres://app@orders-db.internal:5432/orders', serverVersion: '16.4 (Debian 16.4-1.pgdg120+1)', tool: 'pg_dump', toolVersion: '16.4' }],
    },
    restore: {
      sandbox: 'docker',
      jobs: 4,
      description: 'docker container 2e5157cab49d (postgres:16, PostgreSQL 16.4 (Debian 16.4-1.pgdg120+1))',
      serverVersion: '16.4 (Debian 16.4-1.pgdg120+1)',
      image: 'postgres:16',
      targets: [{ name: 'source', into: 'docker container 2e5157cab49d (postgres:16, PostgreSQL 16.4)' }],
    },
    trend: { rto: { medianSeconds: 108, basedOnRuns: 10, increasePercent: failed ? 15.7 : 1.9, maxIncreasePercent: 50, action: 'warn', status: 'ok' } },
    ...(failed
      ? {
          error: { kind: 'check', phase: `check:${FAILING_CHECK}`, message: `check "${FAILING_CHECK}" failed` },
          warnings: ['the newest backup is older than the previous run\'s: was a backup skipped?'],
          notifications: [
            { notifier: 'email to oncall@example.com', type: 'email', event: 'failure' as const, status: 'sent' as const, attempts: 1 },
            { notifier: 'webhook (slack) from env SLACK_WEBHOOK_URL', type: 'webhook', event: 'failure' as const, status: 'failed' as const, attempts: 3, message: 'the webhook answered 503 three times; check the URL in SLACK_WEBHOOK_URL' },
          ],
        }
      : { retention: { policy: 'keep the last 7 daily and 4 weekly', removed: ['20261101T020000Z-0a1b2c', '20261102T020000Z-3d4e5f'], problems: [] } }),
    ...overrides,
  };
}

/** Newest first, as the history comes: mostly passed, an RTO around 110s, a few runs that measured none. */
function history(count: number): Report[] {
  const statuses: RunStatus[] = ['passed', 'passed', 'failed', 'passed', 'passed', 'error', 'passed', 'aborted', 'passed'];
  return Array.from({ length: count }, (_, index) => {
    const status = statuses[index % statuses.length]!;
    const rtoSeconds = status === 'error' || status === 'aborted' ? null : 95 + ((index * 7) % 30);
    const startedAt = new Date(RUN_START - (index + 1) * 86_400_000).toISOString();
    return report(status, { runId: `earlier-${index}`, startedAt, measured: { rtoSeconds, rpoSeconds: 300, backupAgeSeconds: 1, dataAgeAtSnapshotSeconds: 300 } });
  });
}

describeWithBrowser('the HTML report in Chromium', () => {
  let browser: Browser | undefined;
  let directory = '';

  beforeAll(async () => {
    directory = mkdtempSync(join(tmpdir(), 'firedrill-html-report-'));
    browser = await launchBrowser();
    mkdirSync(ARTIFACTS, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    if (directory) rmSync(directory, { recursive: true, force: true });
  });

  /** Opens the report from a file with the network cut off; `blocked` lists whatever the page tried to fetch. */
  async function open(html: string, width: number, name: string): Promise<{ page: Page; context: BrowserContext; blocked: string[] }> {
    const file = join(directory, `${name}-${width}.html`);
    writeFileSync(file, html);
    const context = await browser!.newContext({ viewport: { width, height: 900 } });
    const page = await context.newPage();
    const blocked = await blockNetwork(page);
    await page.goto(pathToFileURL(file).href);
    return { page, context, blocked };
  }

  async function overflow(page: Page): Promise<{ scrollWidth: number; viewportWidth: number }> {
    return page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, viewportWidth: window.innerWidth }));
  }

  it('shows a failed run: a red banner, the RTO, a bar per phase, the failing check, the SHA-256 and the history', async () => {
    const failed = report('failed');
    const { page, context, blocked } = await open(renderHtmlReport(failed, history(35)), 1280, 'failed');
    try {
      const banner = page.getByTestId('status-banner');
      expect(await banner.isVisible()).toBe(true);
      expect(await banner.innerText()).toMatch(/FAILED[\s\S]*orders/);
      expect(await banner.evaluate((element: unknown) => getComputedStyle(element).backgroundColor)).toBe('rgb(196, 38, 46)');
      expect(await page.title()).toBe('firedrill: orders — FAILED');

      const objectives = await page.getByTestId('objectives').innerText();
      expect(objectives).toMatch(/RTO\s+10m\s+2m 5s\s+met/);
      expect(objectives).toMatch(/RPO\s+26h\s+5m 1s\s+met/);

      const timeline = page.getByTestId('timeline').locator('svg');
      expect(await timeline.isVisible()).toBe(true);
      const bars = timeline.locator('rect.bar');
      expect(await bars.count()).toBe(failed.phases.length);
      for (const bar of await bars.all()) {
        expect((await bar.boundingBox())?.width).toBeGreaterThanOrEqual(3);
      }
      const failedBar = timeline.locator(`rect.bar[data-phase="check:${FAILING_CHECK.replaceAll('"', '\\"')}"]`);
      expect(await failedBar.evaluate((element: unknown) => getComputedStyle(element).fill)).toBe('rgb(239, 123, 129)');

      const checks = page.getByTestId('checks');
      expect(await checks.locator('table').isVisible()).toBe(true);
      const failingRow = checks.locator('tr[data-check-status="failed"]');
      expect(await failingRow.innerText()).toContain(FAILING_CHECK);
      expect(await failingRow.innerText()).toContain('returned 12 rows with a price <= 0\nfirst: order 4711 & order 4712');
      expect(await page.locator('script').count()).toBe(0);

      expect(await page.getByTestId('backup-facts').innerText()).toContain(SHA256);
      expect(await page.getByTestId('notifications').innerText()).toContain('the webhook answered 503 three times');

      const strip = page.getByTestId('history');
      expect(await strip.locator('svg.strip rect.run').count()).toBe(30);
      expect(await strip.locator('svg.strip rect.run.current').count()).toBe(1);
      expect(await strip.getByTestId('rto-sparkline').isVisible()).toBe(true);
      expect(await strip.locator('polyline').getAttribute('points')).toMatch(/^(\S+,\S+ ){20,}\S+,\S+$/);
      expect(await strip.locator('circle.current').count()).toBe(1);

      await page.screenshot({ path: join(ARTIFACTS, 'html-report-failed.png'), fullPage: true });
      expect(blocked).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('shows a passed run in a green banner, with its retention', async () => {
    const { page, context, blocked } = await open(renderHtmlReport(report('passed'), history(12)), 1280, 'passed');
    try {
      const banner = page.getByTestId('status-banner');
      expect(await banner.innerText()).toMatch(/PASSED[\s\S]*orders/);
      expect(await banner.evaluate((element: unknown) => getComputedStyle(element).backgroundColor)).toBe('rgb(26, 127, 55)');
      expect(await page.getByTestId('retention').innerText()).toContain('20261101T020000Z-0a1b2c');
      expect(await page.getByTestId('history').locator('rect.run').count()).toBe(13);
      await page.screenshot({ path: join(ARTIFACTS, 'html-report-passed.png'), fullPage: true });
      expect(blocked).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('fits a 400px wide screen without scrolling sideways', async () => {
    const error = report('error', {
      summary: 'error: the sandbox did not start',
      phases: [],
      checks: [],
      backup: undefined,
      restore: undefined,
      measured: { rtoSeconds: null, rpoSeconds: null, backupAgeSeconds: null, dataAgeAtSnapshotSeconds: null },
      objectives: { rto: { limit: '10m', limitSeconds: 600, measuredSeconds: null, status: 'not measured' } },
      trend: { rto: { medianSeconds: 108, basedOnRuns: 10, increasePercent: null, maxIncreasePercent: 50, action: 'fail', status: 'not measured' } },
      retention: undefined,
      error: { kind: 'sandbox', phase: 'restore.sandbox', message: 'no Docker engine answers at /var/run/docker.sock' },
    });
    const cases: [string, Report, Report[]][] = [
      // One unbroken 150-character token, as a path or a URL in an error message is: it must wrap, not widen the page.
      ['failed', report('failed', { summary: `failed: pg_restore could not read /${'very-long-directory-name/'.repeat(6)}dump` }), history(35)],
      ['passed', report('passed'), history(3)],
      ['error', error, []],
    ];
    for (const [name, shown, earlier] of cases) {
      const { page, context, blocked } = await open(renderHtmlReport(shown, earlier), 400, name);
      try {
        const { scrollWidth, viewportWidth } = await overflow(page);
        expect(scrollWidth, name).toBeLessThanOrEqual(viewportWidth + 1);
        expect(await page.getByTestId('status-banner').isVisible()).toBe(true);
        await page.screenshot({ path: join(ARTIFACTS, `html-report-${name}-400px.png`), fullPage: true });
        expect(blocked).toEqual([]);
      } finally {
        await context.close();
      }
    }
  });
});
