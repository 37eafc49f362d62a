import { open, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { listFiles } from '../support/workspace.ts';
import { drillFile, fakePgDump } from '../support/source-database.ts';
import type { Report } from '../../src/report/report.ts';
import { useSourceDatabase } from '../support/lifecycle.ts';


const context = useSourceDatabase();

async function backupDirectories(drill: string): Promise<string[]> {
  try {
    // `reports` holds the drill's run results beside its backups.
    return (await readdir(join(context.workspace.directory, 'var/backups', drill))).filter((name) => name !== 'reports').sort();
  } catch {
    return [];
  }
}

describe('firedrill run', () => {
  it('backs up a seeded database, restores it into a local sandbox, and every check passes', async () => {
    await context.workspace.writeFile('drills/orders.yaml', drillFile());
    const result = await context.workspace.run(['run', 'orders', '--json']);
    expect(result.stderr).not.toContain('"level":50');
    expect(result.code).toBe(0);

    const report = JSON.parse(result.stdout) as Report;
    expect(report).toMatchObject({ schemaVersion: 1, drill: 'orders', status: 'passed' });
    expect(report.checks.map((check) => [check.name, check.status])).toEqual([
      ['orders exist', 'passed'],
      ['nothing lost', 'passed'],
      ['data is fresh', 'passed'],
    ]);
    expect(report.checks[0]?.message).toBe('returned 1200');
    expect(report.measured.rtoSeconds).toBeGreaterThan(0);
    // The newest seeded order is five minutes old: that is the data's age at the snapshot.
    expect(report.measured.dataAgeAtSnapshotSeconds).toBeGreaterThanOrEqual(300);
    expect(report.measured.rpoSeconds).toBeGreaterThanOrEqual(report.measured.dataAgeAtSnapshotSeconds ?? 0);
    expect(report.objectives.rto?.status).toBe('met');
    expect(report.objectives.rpo?.status).toBe('met');
    expect(report.backup).toMatchObject({ repository: 'local', reused: false });
    expect(report.backup?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(report.backup?.targets[0]).toMatchObject({ engine: 'postgres', tool: 'pg_dump' });
    for (const phase of ['backup', 'backup.snapshot', 'backup.inventory', 'backup.dump', 'backup.count', 'restore', 'restore.fetch', 'restore.sandbox', 'restore.load', 'checks']) {
      expect(report.phases.map((recorded) => recorded.name)).toContain(phase);
    }

    const [backupId] = await backupDirectories('orders');
    expect(backupId).toBe(report.backup?.id);
    const manifest = JSON.parse(await readFile(join(context.workspace.directory, 'var/backups/orders', backupId as string, 'manifest.json'), 'utf8'));
    expect(manifest.targets[0].metadata.fingerprint.rowCounts['public.orders']).toEqual({ rows: 1200, method: 'exact' });
    expect(manifest.targets[0].metadata.fingerprint.inventory.indexes).toContain(
      'public.orders_customer_created_idx: CREATE INDEX orders_customer_created_idx ON public.orders USING btree (customer_id, created_at)',
    );
    const reportFile = join(context.workspace.directory, 'var/reports/orders', `${report.runId}.json`);
    expect(JSON.parse(await readFile(reportFile, 'utf8'))).toMatchObject({ runId: report.runId, status: 'passed' });
  });

  it('prints a readable summary table without --json', async () => {
    await context.workspace.writeFile('drills/orders.yaml', drillFile());
    const result = await context.workspace.run(['run', 'orders']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('drill orders: PASSED');
    expect(result.stdout).toMatch(/orders exist\s+sql\s+passed\s+returned 1200/);
    expect(result.stdout).toMatch(/RTO\s+10m\s+\S+\s+met/);
    expect(result.stdout).toContain('report: var/reports/orders/');
    // Logs are pino JSON lines on stderr, bound to the drill and run.
    const logLine = JSON.parse(result.stderr.split('\n').find((line) => line.includes('"drill started"')) as string);
    expect(logLine).toMatchObject({ drill: 'orders', msg: 'drill started' });
    expect(logLine.runId).toMatch(/^\d{8}T\d{6}Z-[0-9a-f]{6}$/);
  });

  it('exits 1 and shows the message when a sql check fails', async () => {
    await context.workspace.writeFile(
      'drills/orders.yaml',
      drillFile({ checks: '  - { name: lots of orders, type: sql, query: "select count(*) from orders", expect: { min: 5000 } }' }),
    );
    const result = await context.workspace.run(['run', 'orders']);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('drill orders: FAILED');
    expect(result.stdout).toContain('check "lots of orders" failed: expected at least 5000, got 1200');
    // The check ran to its end (phase) and found a problem (status): both say failed.
    expect(result.stdout).toMatch(/check:lots of orders\s+\S+\s+failed/);
  });

  it('fails as an integrity failure, before restoring, when one byte of the stored backup is flipped', async () => {
    await context.workspace.writeFile('drills/orders.yaml', drillFile());
    expect((await context.workspace.run(['run', 'orders'])).code).toBe(0);
    const [backupId] = await backupDirectories('orders');
    const dumpPath = join(context.workspace.directory, 'var/backups/orders', backupId as string, 'source.pgdump.zst');
    const file = await open(dumpPath, 'r+');
    const byte = Buffer.alloc(1);
    await file.read(byte, 0, 1, 4096);
    byte[0] = (byte[0] as number) ^ 0xff;
    await file.write(byte, 0, 1, 4096);
    await file.close();

    const result = await context.workspace.run(['run', 'orders', '--from-backup', 'latest', '--json']);
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout) as Report;
    expect(report.status).toBe('failed');
    expect(report.error).toMatchObject({ kind: 'integrity', phase: 'restore.fetch' });
    expect(report.error?.message).toContain(`object source.pgdump.zst of backup ${backupId} does not match its manifest`);
    expect(report.error?.message).toContain('was not restored');
    // The sandbox may have started meanwhile (it starts while the backup is fetched), but nothing was loaded into it.
    expect(report.phases.map((phase) => phase.name)).not.toContain('restore.load');
    expect(report.checks.every((check) => check.status === 'skipped')).toBe(true);
  });

  it('fails the fingerprint check, naming the table, when the restore differs from the source snapshot', async () => {
    await context.workspace.writeFile('drills/orders.yaml', drillFile());
    expect((await context.workspace.run(['run', 'orders'])).code).toBe(0);
    const [backupId] = await backupDirectories('orders');
    const manifestPath = join(context.workspace.directory, 'var/backups/orders', backupId as string, 'manifest.json');
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8'));
    manifest.targets[0].metadata.fingerprint.rowCounts['public.order_items'].rows += 1;
    await writeFile(manifestPath, JSON.stringify(manifest, null, 2));

    const result = await context.workspace.run(['run', 'orders', '--from-backup', backupId as string, '--json']);
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout) as Report;
    const fingerprint = report.checks.find((check) => check.type === 'fingerprint');
    expect(fingerprint?.status).toBe('failed');
    expect(fingerprint?.message).toMatch(/^1 difference from the source snapshot: public\.order_items has \d+ rows, source had \d+$/);
    expect(report.backup).toMatchObject({ id: backupId, reused: true });
  });

  it('exits 2 with a clear message and records no backup when the source is down', async () => {
    await context.workspace.writeFile('drills/orders.yaml', drillFile());
    const result = await context.workspace.run(['run', 'orders', '--json'], { SOURCE_URL: 'postgres://postgres@127.0.0.1:1/shop' });
    expect(result.code).toBe(2);
    const report = JSON.parse(result.stdout) as Report;
    expect(report.status).toBe('error');
    expect(report.error).toMatchObject({ kind: 'backup', phase: 'backup.connect' });
    expect(report.error?.message).toContain('cannot connect to the source database postgres://postgres@127.0.0.1:1/shop');
    expect(report.error?.message).toContain('ECONNREFUSED');
    expect(report.error?.message).toContain('drills/orders.yaml');
    expect(await backupDirectories('orders')).toEqual([]);
    const listing = await context.workspace.run(['backups', 'orders']);
    expect(listing.stdout).toContain('has no backups');
  });

  it('never records a backup when pg_dump exits non-zero after writing part of its output', async () => {
    // A pg_dump that dies after 4 KiB of real dump output.
    await fakePgDump(join(context.workspace.directory, 'broken-bin'), (real) => `${real} "$@" | head -c 4096\nexit 3`);
    await context.workspace.writeFile('drills/orders.yaml', drillFile({ backup: '{ binDir: ./broken-bin }' }));

    const result = await context.workspace.run(['run', 'orders', '--json']);
    expect(result.code).toBe(2);
    const report = JSON.parse(result.stdout) as Report;
    expect(report.error).toMatchObject({ kind: 'backup', phase: 'backup.dump' });
    expect(report.error?.message).toContain('pg_dump failed for postgres://postgres@127.0.0.1');
    expect(report.error?.message).toContain('exited with status 3');
    expect(await backupDirectories('orders')).toEqual([]);
  });

  it('refuses, before dumping anything, a pg_dump older than the source server with backup.tool: host', async () => {
    // A pg_dump that claims to be 12.0: the preflight must stop before it is ever run for a dump.
    await fakePgDump(join(context.workspace.directory, 'old-bin'), () => 'echo ran >> "$0.log"; exit 1', '12.0');
    await context.workspace.writeFile('drills/orders.yaml', drillFile({ backup: '{ binDir: ./old-bin, tool: host }' }));

    const result = await context.workspace.run(['run', 'orders', '--json']);
    expect(result.code).toBe(2);
    const report = JSON.parse(result.stdout) as Report;
    expect(report.error).toMatchObject({ kind: 'backup', phase: 'backup.tool' });
    expect(report.error?.message).toMatch(/^pg_dump 12\.0 \(\/\S+\/old-bin\/pg_dump\) is older than the source server postgres:\/\/postgres@127\.0\.0\.1:\d+\/shop \(PostgreSQL 15/);
    expect(report.error?.message).toContain('Install the PostgreSQL 15 client tools');
    expect(report.error?.message).toContain('set backup.binDir, or let pg_dump run in a container (backup.tool: auto) in drills/orders.yaml');
    expect(await listFiles(join(context.workspace.directory, 'old-bin'))).toEqual([join(context.workspace.directory, 'old-bin/pg_dump')]);
    expect(await backupDirectories('orders')).toEqual([]);
  });

  it('drills several drills with --all and exits with the worst outcome', async () => {
    await context.workspace.writeFile('drills/good.yaml', drillFile());
    await context.workspace.writeFile('drills/bad.yaml', drillFile({ checks: '  - { type: sql, query: "select false" }' }));
    const result = await context.workspace.run(['run', '--all', '--json']);
    expect(result.code).toBe(1);
    const reports = JSON.parse(result.stdout) as Report[];
    expect(reports.map((report) => [report.drill, report.status])).toEqual([
      ['bad', 'failed'],
      ['good', 'passed'],
    ]);
    expect(reports[0]?.checks[0]).toMatchObject({ name: 'sql', message: 'expected true, got false' });
  });

  it('runs the valid drills of --all, reports the invalid one, and exits 2', async () => {
    await context.workspace.writeFile('drills/good.yaml', drillFile());
    await context.workspace.writeFile('drills/typo.yaml', drillFile({ checks: '  - { type: sql, qeury: "select true" }' }));
    const result = await context.workspace.run(['run', '--all']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('firedrill: not run: drills/typo.yaml: checks[0].qeury: unknown key (did you mean "query"?)');
    expect(result.stdout).toContain('drill good: PASSED');
    expect(result.stdout).toContain('2 drills: 1 passed, 1 invalid (not run)');
  });

  it('drills an existing backup without the source password, and names a mistyped backup id without running anything', async () => {
    await context.workspace.writeFile('drills/orders.yaml', drillFile());
    expect((await context.workspace.run(['run', 'orders'])).code).toBe(0);
    const reportsBefore = await listFiles(join(context.workspace.directory, 'var/reports'));

    const again = await context.workspace.run(['run', 'orders', '--from-backup', 'latest', '--json'], { SOURCE_PASSWORD: '' , SOURCE_URL: 'postgres://nobody@127.0.0.1:1/gone' });
    expect(again.code).toBe(0);
    expect((JSON.parse(again.stdout) as Report).backup?.reused).toBe(true);

    const mistyped = await context.workspace.run(['run', 'orders', '--from-backup', '20990101T000000Z-000000']);
    expect(mistyped.code).toBe(2);
    expect(mistyped.stderr).toMatch(/drill "orders" has no backup 20990101T000000Z-000000 in local repository "local" at .*; the latest complete one is \d{8}T\d{6}Z-[0-9a-f]{6} \(see firedrill backups orders\)/);
    expect(await listFiles(join(context.workspace.directory, 'var/reports'))).toHaveLength(reportsBefore.length + 1);
  });

  it('accepts the file name of a drill that sets a name of its own', async () => {
    await context.workspace.writeFile('drills/orders.yaml', drillFile({ extra: 'name: orders-production' }));
    const result = await context.workspace.run(['run', 'orders', '--json']);
    expect(result.code).toBe(0);
    expect((JSON.parse(result.stdout) as Report).drill).toBe('orders-production');
  });

  it('finishes the drill, cleans up and writes its report when whoever reads its output goes away', async () => {
    await context.workspace.writeFile('drills/orders.yaml', drillFile());
    const running = context.workspace.start(['--log-level', 'debug', 'run', 'orders']);
    // Like `firedrill run orders | head -1` after the first line.
    running.child.stdout?.destroy();
    running.child.stderr?.destroy();
    const result = await running.result;
    expect(result.code).toBe(0);
    const reports = await listFiles(join(context.workspace.directory, 'var/reports/orders'));
    expect(reports).toHaveLength(1);
    expect(JSON.parse(await readFile(reports[0]!, 'utf8'))).toMatchObject({ status: 'passed' });
  });
});

