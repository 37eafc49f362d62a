import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { renderGamedayHtml } from '../../src/report/gameday-html.ts';
import type { GamedayReport } from '../../src/gameday/gameday.ts';
import { blockNetwork, describeWithBrowser, launchBrowser } from '../support/browser.ts';

/** The gameday's HTML page as a person sees it: the score in the banner, each defect's result, the findings. */

const REPORT: GamedayReport = {
  schemaVersion: 1,
  drill: 'orders',
  backupId: '20261126T191516Z-9a3d39',
  startedAt: '2026-11-26T20:00:00.000Z',
  finishedAt: '2026-11-26T20:01:00.000Z',
  baseline: { status: 'passed', runId: '20261126T200000Z-aaaaaa', summary: 'passed: 3 checks passed' },
  score: { caught: 2, applicable: 4, inconclusive: 1 },
  defects: [
    { id: 'flipped-byte', description: 'one byte flipped', applicable: true, caught: true, caughtBy: 'integrity error: object <b>x</b> does not match', status: 'failed' },
    { id: 'manifest-counts', description: 'a row count raised by one', applicable: true, caught: true, caughtBy: 'check "nothing lost"', status: 'failed' },
    { id: 'stale-backup', description: 'the backup treated as too old', applicable: true, caught: false, status: 'passed', suggestion: 'set objectives.rpo' },
    { id: 'index-missing', description: 'one index left out', applicable: true, caught: false, inconclusive: true, status: 'error', suggestion: 'the drill could not run' },
    { id: 'wrong-identity', description: 'a wrong age identity', applicable: false, notApplicableBecause: 'the backup is not encrypted' },
  ],
};

let browser: Browser;
let directory: string;
beforeAll(async () => {
  directory = mkdtempSync(join(tmpdir(), 'firedrill-gameday-html-'));
});
afterAll(async () => {
  await browser?.close();
  rmSync(directory, { recursive: true, force: true });
});

describeWithBrowser('the gameday HTML page in Chromium', () => {
  it('shows the score, every defect and the findings, from a file that loads nothing', async () => {
    browser = await launchBrowser();
    const html = renderGamedayHtml(REPORT);
    expect(html).not.toMatch(/<script|<b>x<\/b>/i);
    const path = join(directory, 'gameday.html');
    writeFileSync(path, html);
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const blocked = await blockNetwork(page);
    await page.goto(pathToFileURL(path).href);

    const banner = page.getByTestId('score-banner');
    expect(await banner.isVisible()).toBe(true);
    expect(await banner.getAttribute('data-status')).toBe('failed');
    expect(await banner.innerText()).toContain('orders: 2 of 4 defects caught');
    expect(await page.locator('tr[data-defect]').count()).toBe(5);
    expect(await page.locator('tr[data-defect="stale-backup"]').getAttribute('data-result')).toBe('NOT CAUGHT');
    expect(await page.locator('tr[data-defect="index-missing"]').getAttribute('data-result')).toBe('inconclusive');
    expect(await page.locator('tr[data-defect="flipped-byte"]').innerText()).toContain('integrity error: object <b>x</b> does not match');
    expect(await page.getByTestId('findings').innerText()).toContain('stale-backup: set objectives.rpo');
    mkdirSync('test-artifacts', { recursive: true });
    await page.screenshot({ path: 'test-artifacts/gameday.png', fullPage: true });
    expect(blocked).toEqual([]);
  });
});
