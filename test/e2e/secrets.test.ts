import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createWorkspace, listFiles, processesMentioning, type Workspace } from '../support/workspace.ts';
import { drillFile, startSourceDatabase } from '../support/source-database.ts';
import type { DemoSource } from '../../src/demo/demo-source.ts';

/**
 * A canary password, planted in the source database, must never come out of
 * firedrill: not on stdout or stderr (logs at the most verbose level), not in
 * reports, manifests or anything else under var/, not on a child's command line.
 */

const CANARY = `canary-${Math.random().toString(36).slice(2)}-do-not-print`;
let source: DemoSource & { env: Record<string, string> };
let workspace: Workspace;

beforeAll(async () => {
  source = await startSourceDatabase({ password: CANARY });
});
afterAll(async () => {
  await source?.stop();
});
beforeEach(async () => {
  workspace = await createWorkspace(source.env);
});
afterEach(async () => {
  expect(await workspace.leftovers()).toEqual({ temporaryEntries: [], processes: [] });
  await workspace.remove();
});

async function everythingWritten(result: { stdout: string; stderr: string }): Promise<string> {
  const files = await listFiles(join(workspace.directory, 'var'));
  const contents = await Promise.all(files.map((file) => readFile(file, 'latin1')));
  return [result.stdout, result.stderr, ...files, ...contents].join('\n');
}

describe('a secret planted as the source password', () => {
  it('appears nowhere in output, logs, reports or backups of a passing run', async () => {
    expect(source.env.SOURCE_PASSWORD).toBe(CANARY);
    await workspace.writeFile('drills/orders.yaml', drillFile());
    // While the run goes on, look at every process's command line: pg_dump and pg_restore get no password there.
    const running = workspace.start(['--log-level', 'trace', 'run', 'orders', '--json']);
    const commandLines: string[] = [];
    while (running.child.exitCode === null) {
      commandLines.push(...(await processesMentioning(CANARY)));
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const result = await running.result;
    expect(result.code).toBe(0);
    expect(commandLines).toEqual([]);
    expect(await everythingWritten(result)).not.toContain(CANARY);
  });

  it('is redacted when written inside the connection URL', async () => {
    await workspace.writeFile(
      'drills/orders.yaml',
      drillFile().replace('  url: ${SOURCE_URL}\n  password: { env: SOURCE_PASSWORD }', '  url: postgres://postgres:${SOURCE_PASSWORD}@${SOURCE_HOST_PORT}/shop'),
    );
    const hostPort = new URL(source.url).host;
    const result = await workspace.run(['--log-level', 'trace', 'run', 'orders', '--json'], { SOURCE_HOST_PORT: hostPort });
    expect(result.code).toBe(0);
    expect(await everythingWritten(result)).not.toContain(CANARY);
  });

  it('stays hidden when the password is wrong and the error is reported', async () => {
    await workspace.writeFile('drills/orders.yaml', drillFile());
    const wrong = `${CANARY}-wrong`;
    const result = await workspace.run(['--log-level', 'trace', 'run', 'orders', '--json'], { SOURCE_PASSWORD: wrong });
    expect(result.code).toBe(2);
    expect(JSON.parse(result.stdout).error.message).toContain('password authentication failed for user "postgres"');
    const written = await everythingWritten(result);
    expect(written).not.toContain(wrong);
    expect(written).not.toContain(CANARY);
  });
});
