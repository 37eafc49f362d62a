import { join } from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { reportOf, useFaultScene } from '../support/fault-scene.ts';
import { drillFile, fakePgDump } from '../support/source-database.ts';
import { clientConfig } from '../../src/engines/postgres/postgres-connection.ts';

/**
 * Source faults: the database down, a wrong password, a table locked for
 * longer than backup.lockWaitTimeout, and pg_dump killed in the middle of its
 * output. (pg_dump older than the server is refused before any dump:
 * test/e2e/run.test.ts.) None of them may ever become a backup.
 */

const scene = useFaultScene();

async function onlyTheEarlierBackup(): Promise<void> {
  expect((await scene.backups()).map((entry) => [entry.id, entry.status])).toEqual([[scene.earlier.id, 'complete']]);
}

describe('source faults', () => {
  it('the database down: an infrastructure error naming the server and the drill file; no backup', async () => {
    const result = await scene.drill([], { SOURCE_URL: 'postgres://postgres@127.0.0.1:1/shop' });
    expect(result.code).toBe(2);
    const report = reportOf(result);
    expect(report.status).toBe('error');
    expect(report.error).toMatchObject({ kind: 'backup', phase: 'backup.connect' });
    expect(report.error?.message).toContain('cannot connect to the source database postgres://postgres@127.0.0.1:1/shop');
    expect(report.error?.message).toContain('ECONNREFUSED');
    expect(report.error?.message).toContain('drills/orders.yaml');
    await onlyTheEarlierBackup();
  });

  it('a wrong password: the server’s refusal, without the password; no backup', async () => {
    const result = await scene.drill([], { SOURCE_PASSWORD: `${scene.source.password.reveal()}-wrong` });
    expect(result.code).toBe(2);
    const report = reportOf(result);
    expect(report.status).toBe('error');
    expect(report.error?.message).toContain('password authentication failed for user "postgres"');
    await onlyTheEarlierBackup();
  });

  it('a table locked longer than backup.lockWaitTimeout: the backup stops after that long, naming the lock and the setting', async () => {
    const locker = new pg.Client({ ...clientConfig(scene.source.connection), application_name: 'test' });
    await locker.connect();
    try {
      await locker.query('begin');
      await locker.query('lock table orders in access exclusive mode');
      await scene.writeDrill(drillFile({ backup: '{ jobs: 2, lockWaitTimeout: 2s }' }));
      const started = Date.now();
      const result = await scene.drill();
      expect(Date.now() - started).toBeLessThan(30_000);
      expect(result.code).toBe(2);
      const report = reportOf(result);
      expect(report.status).toBe('error');
      expect(report.error?.message).toContain('canceling statement due to lock timeout');
      expect(report.error?.message).toContain('A table stayed locked longer than backup.lockWaitTimeout (2s) allows');
      expect(report.error?.message).toContain('or raise backup.lockWaitTimeout in drills/orders.yaml');
      await onlyTheEarlierBackup();
    } finally {
      await locker.query('rollback');
      await locker.end();
    }
  });

  it('pg_dump killed with SIGKILL in the middle of its output: never a backup, and its upload is aborted', async () => {
    // The real dump's first 64 KiB, then the process firedrill started dies as an OOM kill would end it.
    await fakePgDump(join(scene.workspace.directory, 'killed-bin'), (real) => `${real} "$@" | head -c 65536\nkill -KILL $$`);
    await scene.writeDrill(drillFile({ backup: '{ binDir: ./killed-bin, tool: host }' }));
    const result = await scene.drill();
    expect(result.code).toBe(2);
    const report = reportOf(result);
    expect(report.status).toBe('error');
    expect(report.error).toMatchObject({ kind: 'backup', phase: 'backup.dump' });
    expect(report.error?.message).toContain('pg_dump failed for postgres://postgres@127.0.0.1');
    expect(report.error?.message).toMatch(/SIGKILL/);
    expect(report.backup).toBeUndefined();
    await onlyTheEarlierBackup();
    // The scene checks after this test that no multipart upload is left open.
  });
});
