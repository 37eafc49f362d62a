import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { listFiles, processesMentioning } from '../support/workspace.ts';
import { drillFile } from '../support/source-database.ts';
import { useSourceDatabase } from '../support/lifecycle.ts';

/**
 * A canary password, planted in the source database, must never come out of
 * firedrill: not on stdout or stderr (logs at the most verbose level), not in
 * reports, manifests or anything else under var/, not on a child's command line.
 */

const CANARY = `canary-${Math.random().toString(36).slice(2)}-do-not-print`;

const context = useSourceDatabase({ password: CANARY });

async function everythingWritten(result: { stdout: string; stderr: string }): Promise<string> {
  const files = await listFiles(join(context.workspace.directory, 'var'));
  const contents = await Promise.all(files.map((file) => readFile(file, 'latin1')));
  return [result.stdout, result.stderr, ...files, ...contents].join('\n');
}

describe('a secret planted as the source password', () => {
  it('appears nowhere in output, logs, reports or backups of a passing run', async () => {
    expect(context.source.env.SOURCE_PASSWORD).toBe(CANARY);
    await context.workspace.writeFile('drills/orders.yaml', drillFile());
    // While the run goes on, look at every process's command line: pg_dump and pg_restore get no password there.
    // The JUnit and metrics outputs go under var/ too, so they are searched with the rest.
    const running = context.workspace.start(['--log-level', 'trace', 'run', 'orders', '--json', '--junit', 'var/junit.xml', '--metrics-file', 'var/firedrill.prom']);
    const commandLines: string[] = [];
    while (running.child.exitCode === null) {
      commandLines.push(...(await processesMentioning(CANARY)));
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const result = await running.result;
    expect(result.code).toBe(0);
    expect(commandLines).toEqual([]);
    expect(await readFile(join(context.workspace.directory, 'var/junit.xml'), 'utf8')).toContain('<testsuite name="orders"');
    expect(await everythingWritten(result)).not.toContain(CANARY);
  });

  it('is redacted when written inside the connection URL', async () => {
    await context.workspace.writeFile(
      'drills/orders.yaml',
      drillFile().replace('  url: ${SOURCE_URL}\n  password: { env: SOURCE_PASSWORD }', '  url: postgres://postgres:${SOURCE_PASSWORD}@${SOURCE_HOST_PORT}/shop'),
    );
    const hostPort = new URL(context.source.url).host;
    const result = await context.workspace.run(['--log-level', 'trace', 'run', 'orders', '--json'], { SOURCE_HOST_PORT: hostPort });
    expect(result.code).toBe(0);
    expect(await everythingWritten(result)).not.toContain(CANARY);
  });

  it('stays hidden when the password is wrong and the error is reported', async () => {
    await context.workspace.writeFile('drills/orders.yaml', drillFile());
    const wrong = `${CANARY}-wrong`;
    const result = await context.workspace.run(['--log-level', 'trace', 'run', 'orders', '--json', '--junit', 'var/junit.xml', '--metrics-file', 'var/firedrill.prom'], {
      SOURCE_PASSWORD: wrong,
    });
    expect(result.code).toBe(2);
    expect(JSON.parse(result.stdout).error.message).toContain('password authentication failed for user "postgres"');
    const written = await everythingWritten(result);
    expect(written).not.toContain(wrong);
    expect(written).not.toContain(CANARY);
  });
});
