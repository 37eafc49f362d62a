import { chmod, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect, it } from 'vitest';
import { blockNetwork, describeWithBrowser, launchBrowser } from '../support/browser.ts';
import { useSourceDatabase } from '../support/lifecycle.ts';
import { drillFile } from '../support/source-database.ts';
import type { Report } from '../../src/report/report.ts';

/**
 * History and the HTML report from the command line: every run kept beside
 * the backups, `firedrill history` over this machine's and the repository's
 * reports, an RTO regression against real history (a warning by default, a
 * failure when configured), and `firedrill report` rendering a run.
 */

const context = useSourceDatabase();

/** Opens a report file in headless Chromium and checks what a reader sees first: the banner, the objectives, the history strip. */
async function expectRendered(path: string, expected: { status: string; runs: number }): Promise<void> {
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const blocked = await blockNetwork(page);
    await page.goto(pathToFileURL(path).href);
    expect(await page.getByTestId('status-banner').isVisible()).toBe(true);
    expect(await page.getByTestId('status-banner').innerText()).toContain(expected.status);
    expect(await page.getByTestId('objectives').innerText()).toMatch(/RTO/);
    expect(await page.getByTestId('timeline').locator('rect.bar').count()).toBeGreaterThan(3);
    expect(await page.getByTestId('history').locator('rect.run').count()).toBe(expected.runs);
    await mkdir('test-artifacts', { recursive: true });
    await page.screenshot({ path: 'test-artifacts/html-report-real-run.png', fullPage: true });
    expect(blocked).toEqual([]);
  } finally {
    await browser.close();
  }
}

/** Earlier passed runs planted in this machine's reports: quick restores whose median a real restore is far above. */
async function plantFastHistory(directory: string, count: number): Promise<string[]> {
  const folder = join(directory, 'var/reports/orders');
  await mkdir(folder, { recursive: true });
  const runIds: string[] = [];
  for (let day = 1; day <= count; day += 1) {
    const runId = `202601${String(day).padStart(2, '0')}T030000Z-00000${day}`;
    runIds.push(runId);
    const startedAt = `2026-01-${String(day).padStart(2, '0')}T03:00:00.000Z`;
    const report = {
      schemaVersion: 1,
      drill: 'orders',
      runId,
      status: 'passed',
      summary: 'passed: 3 checks passed',
      startedAt,
      finishedAt: startedAt,
      durationMs: 100,
      host: 'earlier',
      phases: [],
      checks: [],
      measured: { rtoSeconds: 0.05, rpoSeconds: 60, backupAgeSeconds: 60, dataAgeAtSnapshotSeconds: null },
      objectives: {},
    };
    await writeFile(join(folder, `${runId}.json`), JSON.stringify(report));
  }
  return runIds;
}

describeWithBrowser('history and the HTML report', () => {
  it('keeps every run with the backups, flags RTO regressions, and renders any run', async () => {
    const { workspace } = context;
    await workspace.writeFile('drills/orders.yaml', drillFile());
    const first = await workspace.run(['run', 'orders', '--json']);
    expect(first.code, first.stderr).toBe(0);
    const firstReport = JSON.parse(first.stdout) as Report;
    // Nothing to compare with yet.
    expect(firstReport.trend?.rto).toMatchObject({ status: 'insufficient history', basedOnRuns: 0, action: 'warn' });

    // The report is kept beside the backups as well as in the local reports directory.
    const kept = await readdir(join(workspace.directory, 'var/backups/orders/reports'));
    expect(kept).toEqual([`${firstReport.runId}.json`]);

    // Five earlier runs restored in 50 ms: this machine's real restore is far above their median.
    const planted = await plantFastHistory(workspace.directory, 5);
    const warned = await workspace.run(['run', 'orders', '--from-backup', 'latest']);
    expect(warned.code, warned.stderr).toBe(0);
    expect(warned.stdout).toMatch(/warning: RTO \S+ is [\d.]+% above its median of 50ms over the last 6 passed runs \(objectives.rtoRegression allows 50%\)/);
    expect(warned.stdout).toMatch(/RTO trend\s+\+50%\s+median 50ms\s+regressed/);

    await workspace.writeFile('drills/orders.yaml', drillFile({ extra: 'objectives: { rto: 10m, rpo: 26h, rtoRegression: { action: fail } }' }).replace('objectives: { rto: 10m, rpo: 26h }\n', ''));
    const failed = await workspace.run(['run', 'orders', '--from-backup', 'latest', '--json']);
    expect(failed.code, failed.stderr).toBe(1);
    const failedReport = JSON.parse(failed.stdout) as Report;
    expect(failedReport.status).toBe('failed');
    expect(failedReport.checks.every((check) => check.status === 'passed')).toBe(true);
    expect(failedReport.summary).toMatch(/^failed: RTO \S+ is [\d.]+% above its median of 50ms over the last 7 passed runs/);

    const history = await workspace.run(['history', 'orders']);
    expect(history.code, history.stderr).toBe(0);
    const lines = history.stdout.split('\n');
    expect(lines[0]).toMatch(/^STARTED\s+RUN\s+STATUS\s+RTO\s+RPO\s+BACKUP\s+FAILED CHECKS$/);
    // Newest first: the failed run, marked as a regression, then the warned one, then the first, then the planted ones.
    expect(lines[1]).toMatch(new RegExp(`^\\S+ \\S+Z\\s+${failedReport.runId}\\s+failed\\s+\\S+ / 10m !\\+[\\d.]+%\\s+.+ / 26h\\s+\\d`));
    expect(lines[3]).toContain(firstReport.runId);
    expect(lines.slice(4, 9).map((line) => line.split(/\s+/)[2])).toEqual(planted.toReversed());
    expect(history.stdout).toMatch(/RTO median over the last 7 passed runs: \S+; 2 runs above it by more than the threshold \(marked !\)/);

    const json = await workspace.run(['history', 'orders', '--last', '2', '--json']);
    const parsed = JSON.parse(json.stdout) as { runs: { runId: string; status: string; rtoRegressed: boolean }[] };
    expect(parsed.runs.map((run) => [run.status, run.rtoRegressed])).toEqual([
      ['failed', true],
      ['passed', true],
    ]);
    expect((await workspace.run(['history', 'orders', '--last', 'many'])).code).toBe(2);

    // This machine's reports gone: the repository still has every run made here (and would have those made elsewhere).
    await rm(join(workspace.directory, 'var/reports'), { recursive: true });
    const fromRepository = await workspace.run(['history', 'orders']);
    expect(fromRepository.code, fromRepository.stderr).toBe(0);
    expect(fromRepository.stdout.split('\n').filter((line) => /^\d{4}-/.test(line))).toHaveLength(3);

    // The HTML report of the latest run, next to where its JSON report would be.
    const latest = await workspace.run(['report', 'latest']);
    expect(latest.code, latest.stderr).toBe(0);
    expect(latest.stdout.trim()).toBe(`orders ${failedReport.runId} (failed): var/reports/orders/${failedReport.runId}.html`);
    const html = await readFile(join(workspace.directory, `var/reports/orders/${failedReport.runId}.html`), 'utf8');
    expect(html).toMatch(/^<!DOCTYPE html>/i);
    expect(html).toContain('data-status="failed"');
    expect(html).not.toMatch(/<script|https?:\/\//i);
    // As a person sees it: a real run's report in Chromium, the network cut off.
    await expectRendered(join(workspace.directory, `var/reports/orders/${failedReport.runId}.html`), { status: 'FAILED', runs: 3 });

    // Any run by id, as it was then: its history strip holds only the runs before it.
    const byId = await workspace.run(['report', firstReport.runId, '--out', 'first.html']);
    expect(byId.code, byId.stderr).toBe(0);
    const firstHtml = await readFile(join(workspace.directory, 'first.html'), 'utf8');
    expect(firstHtml).toContain('data-status="passed"');
    expect(firstHtml).not.toContain(failedReport.runId);

    const missing = await workspace.run(['report', '20200101T000000Z-abcdef']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no report of run 20200101T000000Z-abcdef in any drill');
    const notAnId = await workspace.run(['report', 'yesterday']);
    expect(notAnId.code).toBe(2);
    expect(notAnId.stderr).toContain('"yesterday" is not a run id');

    // --open hands the file to the desktop's opener (here a stand-in that records what it was given).
    const bin = join(workspace.directory, 'bin');
    await mkdir(bin);
    await writeFile(join(bin, 'xdg-open'), `#!/bin/sh\necho "$@" > "${join(workspace.directory, 'opened')}"\n`);
    await chmod(join(bin, 'xdg-open'), 0o755);
    const opened = await workspace.run(['report', 'latest', '--drill', 'orders', '--open'], { PATH: `${bin}:${process.env.PATH ?? ''}` });
    expect(opened.code, opened.stderr).toBe(0);
    await expect.poll(() => readFile(join(workspace.directory, 'opened'), 'utf8').catch(() => '')).toBe(`${join(workspace.directory, `var/reports/orders/${failedReport.runId}.html`)}\n`);
    const noOpener = await workspace.run(['report', 'latest', '--open'], { PATH: '/nonexistent' });
    expect(noOpener.code).toBe(0);
    expect(noOpener.stderr).toMatch(/cannot open a browser here \(xdg-open: .*ENOENT.*\); open \S+\.html yourself/);
  });
});
