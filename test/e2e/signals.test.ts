import { chmod, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createWorkspace, listFiles, processesMentioning, type Workspace } from '../support/workspace.ts';
import { drillFile, startSourceDatabase } from '../support/source-database.ts';
import type { DemoSource } from '../../src/demo/demo-source.ts';
import type { Report } from '../../src/report/report.ts';

/** Interrupted runs clean up: the sandbox server is stopped and its directory deleted, whatever the signal. */

let source: DemoSource & { env: Record<string, string> };
let workspace: Workspace;

beforeAll(async () => {
  source = await startSourceDatabase();
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

const SLOW_CHECK = '  - { name: slow, type: sql, query: "select pg_sleep(60) is not null", timeout: 2m }';

async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe.each(['SIGTERM', 'SIGINT'] as const)('a run interrupted by %s while a check runs', (signal) => {
  it('stops the sandbox, removes it, reports the run as aborted and exits 2', async () => {
    await workspace.writeFile('drills/orders.yaml', drillFile({ checks: SLOW_CHECK }));
    const running = workspace.start(['--log-level', 'debug', 'run', 'orders', '--json']);
    let stderr = '';
    running.child.stderr?.on('data', (chunk: string) => (stderr += chunk));
    await waitFor(() => stderr.includes('"phase":"check:slow","msg":"phase started"'), 'the slow check to start');
    expect((await readdir(workspace.temporary)).some((name) => name.startsWith('firedrill-sandbox-'))).toBe(true);

    running.child.kill(signal);
    const result = await running.result;
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`firedrill: ${signal} received; stopping and cleaning up`);
    const report = JSON.parse(result.stdout) as Report;
    expect(report.status).toBe('aborted');
    expect(report.error).toMatchObject({ kind: 'aborted' });
    // The backup was committed before the signal and stays valid; only the sandbox goes.
    expect(report.backup?.id).toBeDefined();
  });
});

describe('a check that never returns', () => {
  it('fails when its timeout expires, and the drill goes on to report', async () => {
    await workspace.writeFile(
      'drills/orders.yaml',
      drillFile({
        checks: [
          '  - { name: stuck, type: sql, query: "select pg_sleep(60) is not null", timeout: 1s }',
          '  - { name: orders exist, type: sql, query: "select count(*) from orders", expect: { min: 1 } }',
        ].join('\n'),
      }),
    );
    const started = Date.now();
    const result = await workspace.run(['run', 'orders', '--json']);
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout) as Report;
    expect(report.checks.map((check) => [check.name, check.status])).toEqual([
      ['stuck', 'failed'],
      ['orders exist', 'passed'],
    ]);
    expect(report.checks[0]?.message).toMatch(/timed out/);
  });
});

describe('a run interrupted by SIGTERM while pg_dump is still writing', () => {
  it('kills pg_dump and leaves no partial backup behind', async () => {
    const realDump = (await listFiles('/usr/lib/postgresql')).find((path) => path.endsWith('/bin/pg_dump'));
    // The real dump, then a pg_dump that keeps its output open as if a large table were still streaming.
    // A sleep of a length nothing else on the machine uses, to find exactly this process.
    const sleeper = `sleep 60.${process.pid}${Date.now() % 1000}`;
    await workspace.writeFile('slow-bin/pg_dump', `#!/bin/sh\nif [ "$1" = "--version" ]; then exec ${realDump} --version; fi\n${realDump} "$@"\nexec ${sleeper}\n`);
    await chmod(join(workspace.directory, 'slow-bin/pg_dump'), 0o755);
    await workspace.writeFile('drills/orders.yaml', drillFile({ extra: 'backup: { binDir: ./slow-bin }' }).replace('backup: { jobs: 2 }\n', ''));

    const running = workspace.start(['--log-level', 'debug', 'run', 'orders', '--json']);
    let stderr = '';
    running.child.stderr?.on('data', (chunk: string) => (stderr += chunk));
    await waitFor(async () => (await processesMentioning(sleeper)).length > 0 && stderr.includes('"phase":"backup.dump"'), 'pg_dump to be running');
    running.child.kill('SIGTERM');
    const result = await running.result;
    expect(result.code).toBe(2);
    const report = JSON.parse(result.stdout) as Report;
    expect(report.status).toBe('aborted');
    expect(report.error?.phase).toBe('backup.dump');
    expect(report.backup).toBeUndefined();
    expect(await readdir(join(workspace.directory, 'var/backups/orders'))).toEqual([]);
    expect(await processesMentioning(sleeper)).toEqual([]);
  });
});
