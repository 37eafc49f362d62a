import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { describeNeeding } from './prerequisite.ts';

/**
 * Browser tests look at what firedrill renders for people (the HTML report,
 * the dashboard) in real headless Chromium, Debian's, driven by
 * playwright-core. They never skip silently: in CI (CI set) or with
 * FIREDRILL_REQUIRE_BROWSER=1 a missing Chromium fails the suite; elsewhere
 * they are skipped with the reason in their name.
 */

export const CHROMIUM_PATH = '/usr/bin/chromium';

const missing = existsSync(CHROMIUM_PATH) ? undefined : `there is no Chromium at ${CHROMIUM_PATH} (apt-get install chromium)`;

export function describeWithBrowser(name: string, body: () => void): void {
  // CI systems set CI: there a missing browser fails too.
  describeNeeding({ what: 'Chromium', missing, requiredBy: 'FIREDRILL_REQUIRE_BROWSER', alsoRequiredWhen: Boolean(process.env['CI']) }, name, body);
}

/** Headless, and quiet on the network: no background requests of its own that a test could mistake for the page's. */
export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
}

/**
 * Lets the page load only `file:` and `data:` URLs and aborts every other
 * request, returning the list of what it aborted: empty at the end of a test,
 * it proves the page needed nothing from the network.
 */
export async function blockNetwork(page: Page): Promise<string[]> {
  const blocked: string[] = [];
  await page.route('**/*', async (route) => {
    const url = route.request().url();
    if (url.startsWith('file:') || url.startsWith('data:')) return route.continue();
    blocked.push(url);
    return route.abort('blockedbyclient');
  });
  return blocked;
}
