import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { processesMentioning } from '../support/workspace.ts';
import { drillFile, fakePgDump } from '../support/source-database.ts';
import type { Report } from '../../src/report/report.ts';
import pg from 'pg';
import { clientConfig } from '../../src/engines/postgres/postgres-connection.ts';
import { useSourceDatabase } from '../support/lifecycle.ts';
import { waitFor } from '../support/wait.ts';

/** Interrupted runs clean up: the sandbox server is stopped and its directory deleted, whatever the signal. */


const context = useSourceDatabase();

const SLOW_CHECK = '  - { name: slow, type: sql, query: "select pg_sleep(60) is not null", timeout: 2m }';


describe.each(['SIGTERM', 'SIGINT'] as const)('a run interrupted by %s while a check runs', (signal) => {
  it('stops the sandbox, removes it, reports the run as aborted and exits 2', async () => {
    await context.workspace.writeFile('drills/orders.yaml', drillFile({ checks: SLOW_CHECK }));
    const running = context.workspace.start(['--log-level', 'debug', 'run', 'orders', '--json']);
    let stderr = '';
    running.child.stderr?.on('data', (chunk: string) => (stderr += chunk));
    await waitFor(() => stderr.includes('"phase":"check:slow","msg":"phase started"'), 'the slow check to start');
    expect((await readdir(context.workspace.temporary)).some((name) => name.startsWith('firedrill-sandbox-'))).toBe(true);

    running.child.kill(signal);
    const result = await running.result;
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`firedrill: ${signal} received; stopping and cleaning up`);
    const report = JSON.parse(result.stdout) as Report;
    expect(report.status).toBe('aborted');
    expect(report.error).toMatchObject({ kind: 'aborted', phase: 'check:slow' });
    expect(report.checks[0]).toMatchObject({ name: 'slow', status: 'interrupted', message: 'the run was aborted while this check ran' });
    // The backup was committed before the signal and stays valid; only the sandbox goes.
    expect(report.backup?.id).toBeDefined();
  });
});

describe('a check that never returns', () => {
  it('fails when its timeout expires, and the drill goes on to report', async () => {
    await context.workspace.writeFile(
      'drills/orders.yaml',
      drillFile({
        checks: [
          '  - { name: stuck, type: sql, query: "select pg_sleep(60) is not null", timeout: 1s }',
          '  - { name: orders exist, type: sql, query: "select count(*) from orders", expect: { min: 1 } }',
        ].join('\n'),
      }),
    );
    const started = Date.now();
    const result = await context.workspace.run(['run', 'orders', '--json']);
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
    // The real dump, then a pg_dump that keeps its output open as if a large table were still streaming,
    // with a sleep of a length nothing else on the machine uses, to find exactly this process.
    const sleeper = `sleep 60.${process.pid}${Date.now() % 1000}`;
    await fakePgDump(join(context.workspace.directory, 'slow-bin'), (real) => `${real} "$@"\nexec ${sleeper}`);
    await context.workspace.writeFile('drills/orders.yaml', drillFile({ backup: '{ binDir: ./slow-bin }' }));

    const running = context.workspace.start(['--log-level', 'debug', 'run', 'orders', '--json']);
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
    // No partial backup: only the run's report is kept beside the backups, so history shows the aborted run.
    expect(await readdir(join(context.workspace.directory, 'var/backups/orders'))).toEqual(['reports']);
    expect(await readdir(join(context.workspace.directory, 'var/backups/orders/reports'))).toEqual([`${report.runId}.json`]);
    expect(await processesMentioning(sleeper)).toEqual([]);
  });
});

describe('a run interrupted while the source keeps a table locked', () => {
  it('stops at once, leaving no session of its own on the source', async () => {
    // The test's own sessions carry another application_name than firedrill's.
    const testSession = async () => {
      const client = new pg.Client({ ...clientConfig(context.source.connection), application_name: 'test' });
      await client.connect();
      return client;
    };
    const locker = await testSession();
    const observer = await testSession();
    const firedrillSessions = async () =>
      Number((await observer.query(`select count(*) from pg_stat_activity where application_name like 'firedrill%'`)).rows[0].count);
    try {
      await locker.query('begin');
      await locker.query('lock table orders in access exclusive mode');
      await context.workspace.writeFile('drills/orders.yaml', drillFile());
      const running = context.workspace.start(['run', 'orders', '--json']);
      // pg_dump and the counting session both end up waiting for the lock.
      await waitFor(
        async () => Number((await observer.query(`select count(*) from pg_stat_activity where application_name like 'firedrill%' and wait_event_type = 'Lock'`)).rows[0].count) > 0,
        'firedrill to wait for the lock',
      );
      const interrupted = Date.now();
      running.child.kill('SIGINT');
      const result = await running.result;
      expect(Date.now() - interrupted).toBeLessThan(10_000);
      expect(result.code).toBe(2);
      expect((JSON.parse(result.stdout) as Report).status).toBe('aborted');
      await waitFor(async () => (await firedrillSessions()) === 0, 'firedrill sessions on the source to end', 5_000);
    } finally {
      await locker.query('rollback');
      await locker.end();
      await observer.end();
    }
  });
});

