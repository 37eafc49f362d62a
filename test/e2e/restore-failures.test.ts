import { cp, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { listFiles } from '../support/workspace.ts';
import { createSourceDatabase, drillFile } from '../support/source-database.ts';
import type { Report } from '../../src/report/report.ts';
import { useSourceDatabase } from '../support/lifecycle.ts';

/**
 * Backups that do not restore, or cannot be trusted, fail the drill (exit 1);
 * a sandbox that lacks something is an environment error (exit 2). Either
 * way the report says what happened, and never quotes a row.
 */

const PRIVATE_VALUE = 'ssn-123-45-6789';

const context = useSourceDatabase();

beforeAll(async () => {
  // A constraint whose function was changed after the rows went in: the live database is fine, its dump is not.
  await createSourceDatabase(context.source, 'unrestorable', `
    create function valid_ssn(value text) returns boolean language sql immutable as $$ select true $$;
    create table people (id int primary key, ssn text check (valid_ssn(ssn)));
    insert into people values (1, '${PRIVATE_VALUE}');
    create or replace function valid_ssn(value text) returns boolean language sql immutable as $$ select false $$;
  `);
});

async function backupIds(drill: string): Promise<string[]> {
  return (await readdir(join(context.workspace.directory, 'var/backups', drill))).filter((name) => name !== 'reports').sort();
}

async function takeBackup(): Promise<string> {
  await context.workspace.writeFile('drills/orders.yaml', drillFile());
  expect((await context.workspace.run(['run', 'orders'])).code).toBe(0);
  return (await backupIds('orders')).at(-1) as string;
}

describe('a backup that does not restore', () => {
  it('fails the drill with pg_restore’s reason and without quoting the failing row', async () => {
    await context.workspace.writeFile('drills/people.yaml', drillFile({ checks: '  - { type: sql, query: "select count(*) from people", expect: { min: 1 } }' }));
    const result = await context.workspace.run(['run', 'people', '--json'], { SOURCE_URL: context.source.url.replace(/\/shop$/, '/unrestorable') });
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout) as Report;
    expect(report.status).toBe('failed');
    expect(report.error).toMatchObject({ kind: 'restore', phase: 'restore.load' });
    expect(report.error?.message).toContain('pg_restore exited with status 1 restoring target "source"');
    expect(report.error?.message).toContain('violates check constraint');
    const everything = [result.stdout, result.stderr, ...(await Promise.all((await listFiles(join(context.workspace.directory, 'var/reports'))).map((file) => readFile(file, 'utf8'))))];
    expect(everything.join('\n')).not.toContain(PRIVATE_VALUE);
  });
});

describe('a backup that cannot be trusted', () => {
  it('is an integrity failure when its manifest was copied from another backup', async () => {
    const original = await takeBackup();
    const copy = `${original.slice(0, -6)}c0ffee`;
    await cp(join(context.workspace.directory, 'var/backups/orders', original), join(context.workspace.directory, 'var/backups/orders', copy), { recursive: true });

    const result = await context.workspace.run(['run', 'orders', '--from-backup', copy, '--json']);
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout) as Report;
    expect(report.error?.kind).toBe('integrity');
    expect(report.error?.message).toContain(`the manifest of backup ${copy} (drill "orders")`);
    expect(report.error?.message).toContain(`describes backup ${original}`);
  });

  it('makes --from-backup latest fail rather than quietly drill an older backup when the newest is damaged', async () => {
    const older = await takeBackup();
    const newer = `${older.slice(0, 16)}9-ffffff`;
    await cp(join(context.workspace.directory, 'var/backups/orders', older), join(context.workspace.directory, 'var/backups/orders', newer), { recursive: true });
    await writeFile(join(context.workspace.directory, 'var/backups/orders', newer, 'manifest.json'), '{ "truncated": ');

    const result = await context.workspace.run(['run', 'orders', '--from-backup', 'latest', '--json']);
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout) as Report;
    expect(report.error?.kind).toBe('integrity');
    expect(report.error?.message).toContain(`the latest backup of drill "orders", ${newer}`);
    expect(report.error?.message).toContain('is not valid JSON');
    const listing = await context.workspace.run(['backups', 'orders']);
    expect(listing.stdout).toMatch(new RegExp(`${newer}\\s+.*invalid: manifest .* is not valid JSON`));
  });
});

describe('a sandbox that lacks an extension the backup uses', () => {
  it('is an environment error naming the extension, and the restore is not attempted', async () => {
    const backupId = await takeBackup();
    const manifestPath = join(context.workspace.directory, 'var/backups/orders', backupId, 'manifest.json');
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8'));
    manifest.targets[0].metadata.fingerprint.inventory.extensions.push('imaginary_gis');
    await writeFile(manifestPath, JSON.stringify(manifest, null, 2));

    const result = await context.workspace.run(['run', 'orders', '--from-backup', backupId, '--json']);
    expect(result.code).toBe(2);
    const report = JSON.parse(result.stdout) as Report;
    expect(report.status).toBe('error');
    expect(report.error).toMatchObject({ kind: 'sandbox', phase: 'restore.prepare' });
    expect(report.error?.message).toMatch(/^the backup uses extension imaginary_gis, which local cluster PostgreSQL .* does not have/);
    expect(report.phases.map((phase) => phase.name)).not.toContain('restore.load');
  });
});
