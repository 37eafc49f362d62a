import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { loadDrills, loadRunnerConfig, type DrillConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/logger.ts';
import { renderReportJson } from '../../src/report/json-file-reporter.ts';
import { REPORT_SCHEMA_VERSION, type Report, type RunStatus } from '../../src/report/report.ts';
import type { ScheduledDrill, SchedulerView } from '../../src/interfaces.ts';
import { startHttpServer, type StartedHttpServer } from '../../src/server/http-server.ts';
import { describeWithBrowser, launchBrowser } from '../support/browser.ts';

/**
 * The dashboard as a person sees it: served by the real HTTP server on
 * 127.0.0.1 and opened in real Chromium, with every request to anywhere but
 * that server cut off. What is asserted is what is visible: a row per drill,
 * the status words in their colours, and a report link that opens the report.
 */

// The tsconfig has no DOM library (firedrill runs in Node): the few browser globals the page functions below use.
declare const document: { documentElement: { scrollWidth: number } };
declare const window: { innerWidth: number };
declare function getComputedStyle(element: unknown): { backgroundColor: string };

const ARTIFACTS = 'test-artifacts';
const DAY = 86_400_000;
const GREEN = 'rgb(26, 127, 55)';
const RED = 'rgb(196, 38, 46)';

function report(drill: string, daysAgo: number, status: RunStatus): Report {
  const started = new Date(Date.now() - daysAgo * DAY - 3_600_000);
  const stamp = started.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const rtoSeconds = status === 'error' ? null : 100 + ((daysAgo * 17) % 40);
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    firedrillVersion: '0.1.0',
    drill,
    runId: `${stamp}-${daysAgo.toString(16).padStart(6, '0')}`,
    status,
    summary: status === 'passed' ? `passed: 2 checks passed, RTO ${rtoSeconds}s within 10m` : status === 'failed' ? 'failed: 1 of 2 checks failed (orders exist)' : 'error: the sandbox did not start',
    startedAt: started.toISOString(),
    finishedAt: new Date(started.getTime() + 150_000).toISOString(),
    durationMs: 150_000,
    host: 'drill-runner-01',
    phases: [
      { name: 'backup', startedAt: started.toISOString(), durationMs: 40_000, status: 'ok' },
      { name: 'restore', startedAt: new Date(started.getTime() + 40_000).toISOString(), durationMs: 110_000, status: status === 'passed' ? 'ok' : 'failed' },
    ],
    checks: [{ name: 'orders exist', type: 'sql', status: status === 'passed' ? 'passed' : 'failed', message: status === 'passed' ? 'returned 5000' : 'returned 0', durationMs: 40 }],
    measured: { rtoSeconds, rpoSeconds: 3_700, backupAgeSeconds: 1, dataAgeAtSnapshotSeconds: 3_600 },
    objectives: {
      rto: { limit: '10m', limitSeconds: 600, measuredSeconds: rtoSeconds, status: rtoSeconds === null ? 'not measured' : 'met' },
      rpo: { limit: '26h', limitSeconds: 93_600, measuredSeconds: 3_700, status: 'met' },
    },
  };
}

describeWithBrowser('the dashboard in Chromium', () => {
  let browser: Browser | undefined;
  let server: StartedHttpServer | undefined;
  let directory = '';
  let latestOrders: Report;

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'firedrill-dashboard-'));
    const file = async (path: string, text: string) => {
      await mkdir(join(directory, path, '..'), { recursive: true });
      await writeFile(join(directory, path), text);
    };
    await file('config/firedrill.yaml', 'repositories:\n  local: { type: local, path: ./var/backups }\ndefaults: { repository: local, sandbox: local }\nreports: { dir: ./var/reports }\n');
    await file('drills/orders.yaml', 'description: The orders database\nsource: { type: postgres, url: "postgres://app@orders-db.internal/orders" }\nobjectives: { rto: 10m, rpo: 26h }\nschedule: "0 3 * * *"\n');
    await file('drills/payments.yaml', 'source: { type: postgres, url: "postgres://app@payments-db.internal/payments" }\nobjectives: { rto: 15m }\nschedule: "30 2 * * 1"\n');
    await file('drills/uploads.yaml', 'description: Uploaded files\nsource: { type: files, paths: [../data] }\n');
    const runner = await loadRunnerConfig(undefined, { cwd: directory, env: {} });
    const drills: DrillConfig[] = (await loadDrills(undefined, runner, { cwd: directory, env: {} })).drills;
    expect(drills.map((drill) => drill.name)).toEqual(['orders', 'payments', 'uploads']);

    // orders: twelve days, one failure and one error among them, passing now. payments: failing now.
    const orders = Array.from({ length: 12 }, (_, daysAgo) => report('orders', daysAgo, daysAgo === 4 ? 'failed' : daysAgo === 7 ? 'error' : 'passed'));
    latestOrders = orders[0]!;
    for (const run of [...orders, report('payments', 0, 'failed'), report('payments', 7, 'passed')]) {
      await file(`var/reports/${run.drill}/${run.runId}.json`, renderReportJson(run));
    }
    const entries: ScheduledDrill[] = [
      { drill: 'orders', schedule: '0 3 * * *', timezone: 'Europe/Berlin', nextRunAt: new Date(Date.now() + 5 * 3_600_000), activity: 'idle' },
      { drill: 'payments', schedule: '30 2 * * 1', timezone: 'UTC', nextRunAt: new Date(Date.now() + 3 * DAY), activity: 'running', runId: '20261126T145900Z-0000aa' },
      { drill: 'uploads', schedule: undefined, timezone: 'UTC', nextRunAt: undefined, activity: 'idle' },
    ];
    const scheduler: SchedulerView = {
      ready: true,
      drills: () => entries,
      queueLength: () => 0,
      runningCount: () => 1,
      requestRun: async () => ({ outcome: 'shutting down' }),
    };
    server = await startHttpServer({ host: '127.0.0.1', port: 0, token: undefined, scheduler, runner, drills: () => drills, logger: createLogger({ level: 'silent' }) });
    browser = await launchBrowser();
    await mkdir(ARTIFACTS, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (directory) await rm(directory, { recursive: true, force: true });
  });

  /** A page that may load only from the dashboard's own origin; `blocked` lists whatever else it asked for. */
  async function open(width: number): Promise<{ page: Page; context: BrowserContext; blocked: string[] }> {
    const context = await browser!.newContext({ viewport: { width, height: 900 } });
    const page = await context.newPage();
    const blocked: string[] = [];
    const origin = new URL(server!.url).origin;
    await page.route('**/*', async (route) => {
      const url = route.request().url();
      if (new URL(url).origin === origin) return route.continue();
      blocked.push(url);
      return route.abort('blockedbyclient');
    });
    await page.goto(`${server!.url}/`);
    return { page, context, blocked };
  }

  it("shows every drill's row with its status in colour, and a report link that opens the report", async () => {
    const { page, context, blocked } = await open(1400);
    try {
      expect(await page.title()).toBe('firedrill: 1 failing');
      const table = page.getByTestId('drills');
      expect(await table.isVisible()).toBe(true);
      expect(await page.locator('script').count()).toBe(0);

      const orders = table.locator('tr[data-drill="orders"]');
      const payments = table.locator('tr[data-drill="payments"]');
      const uploads = table.locator('tr[data-drill="uploads"]');
      for (const row of [orders, payments, uploads]) expect(await row.isVisible()).toBe(true);

      const ordersStatus = orders.getByTestId('last-status');
      expect(await ordersStatus.innerText()).toBe('passed');
      expect(await ordersStatus.evaluate((element: unknown) => getComputedStyle(element).backgroundColor)).toBe(GREEN);
      const paymentsStatus = payments.getByTestId('last-status');
      expect(await paymentsStatus.innerText()).toBe('failed');
      expect(await paymentsStatus.evaluate((element: unknown) => getComputedStyle(element).backgroundColor)).toBe(RED);
      expect(await uploads.getByTestId('last-status').innerText()).toBe('never run');

      expect(await payments.getByTestId('activity').innerText()).toBe('running');
      const ordersText = await orders.innerText();
      expect(ordersText).toContain('The orders database');
      expect(ordersText).toContain('0 3 * * *');
      expect(ordersText).toContain('Europe/Berlin');
      expect(ordersText).toMatch(/in [45]h/);
      expect(ordersText).toMatch(/objective 10m\s*met/);
      expect(await uploads.innerText()).toContain('on demand only');

      // The trend: the last ten runs as squares, the failed and the errored ones among them, and the RTO line.
      const trend = orders.getByTestId('trend');
      expect(await trend.isVisible()).toBe(true);
      expect(await trend.locator('rect.run').count()).toBe(10);
      expect(await trend.locator('rect.run-failed').count()).toBe(1);
      expect(await trend.locator('polyline').count()).toBe(1);

      await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true });

      await orders.getByTestId('report-link').click();
      await page.waitForURL(`**/reports/orders/${latestOrders.runId}.html`);
      const banner = page.getByTestId('status-banner');
      expect(await banner.isVisible()).toBe(true);
      expect(await banner.innerText()).toMatch(/PASSED[\s\S]*orders/);
      expect(await page.getByTestId('history').locator('rect.run').count()).toBe(12);
      expect(blocked).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('fits a 400px wide screen without scrolling sideways', async () => {
    const { page, context, blocked } = await open(400);
    try {
      const { scrollWidth, viewportWidth } = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, viewportWidth: window.innerWidth }));
      expect(scrollWidth).toBeLessThanOrEqual(viewportWidth + 1);
      expect(await page.locator('tr[data-drill="payments"]').getByTestId('last-status').isVisible()).toBe(true);
      await page.screenshot({ path: join(ARTIFACTS, 'dashboard-400px.png'), fullPage: true });
      expect(blocked).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
