import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ageKeygen } from '../support/canaries.ts';
import { describe, expect, it } from 'vitest';
import { useSourceDatabase } from '../support/lifecycle.ts';
import { createSourceDatabase, drillFile } from '../support/source-database.ts';
import { backupDigests } from '../support/workspace.ts';
import type { GamedayReport } from '../../src/gameday/gameday.ts';

/**
 * `firedrill gameday` from the command line: a well-built drill catches
 * every defect that applies to it (exit 0); a weak one is told what it
 * misses and what to add (exit 1). The backup the defects are made from is
 * never changed, and nothing is left behind (checked after every test).
 */

const context = useSourceDatabase();

const outcomes = (report: GamedayReport) => Object.fromEntries(report.defects.map((defect) => [defect.id, defect.applicable ? (defect.caught ? 'caught' : 'missed') : 'n/a']));

describe('firedrill gameday', () => {
  it('scores every defect as caught for a drill with a fingerprint check and an RPO, encrypted, leaving the backup as it was', async () => {
    const { workspace } = context;
    const { recipient, secretKey: key } = ageKeygen();
    await workspace.writeFile(
      'config/firedrill.yaml',
      `repositories:\n  local: { type: local, path: ./var/backups, encryption: { recipients: [${recipient}], identity: { env: AGE_IDENTITY } } }\n`,
    );
    await workspace.writeFile('drills/orders.yaml', drillFile());
    const env = { AGE_IDENTITY: key };
    expect((await workspace.run(['run', 'orders'], env)).code).toBe(0);
    const before = await backupDigests(join(workspace.directory, 'var/backups/orders'));

    const result = await workspace.run(['gameday', 'orders', '--json'], env);

    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as GamedayReport;
    expect(report.baseline.status).toBe('passed');
    expect(outcomes(report)).toEqual({
      'flipped-byte': 'caught',
      'truncated-object': 'caught',
      'manifest-checksum': 'caught',
      'manifest-counts': 'caught',
      'empty-dump': 'caught',
      'table-data-missing': 'caught',
      'index-missing': 'caught',
      'file-content-changed': 'n/a',
      'file-missing': 'n/a',
      'wrong-identity': 'caught',
      'missing-extension': 'n/a',
      'stale-backup': 'caught',
    });
    expect(report.score).toEqual({ caught: 9, applicable: 9, inconclusive: 0 });
    const by = Object.fromEntries(report.defects.map((defect) => [defect.id, defect.caughtBy]));
    expect(by['flipped-byte']).toMatch(/^integrity error: object source\.pgdump\.zst\.age of backup \S+ does not match its manifest/);
    expect(by['manifest-counts']).toBe('check "nothing lost"');
    expect(by['table-data-missing']).toContain('check "nothing lost"');
    expect(by['index-missing']).toBe('check "nothing lost"');
    expect(by['empty-dump']).toMatch(/^restore error: pg_restore exited with status 1/);
    expect(by['wrong-identity']).toMatch(/identity/);
    expect(by['stale-backup']).toBe('objective RPO');
    // The backup is only read: every file as it was, and no drill of the copies in this drill's history.
    expect(await backupDigests(join(workspace.directory, 'var/backups/orders'))).toEqual(before);
    expect(await readdir(join(workspace.directory, 'var/reports/orders'))).toHaveLength(1);
    // The identity the gameday generated, and the real one, appear nowhere.
    expect(`${result.stdout}${result.stderr}`).not.toContain('AGE-SECRET-KEY-');
  });

  it('tells a weak drill what it misses, with what to add, and exits 1', async () => {
    const { workspace } = context;
    await workspace.writeFile(
      'drills/orders.yaml',
      drillFile({ checks: '  - { name: orders exist, type: sql, query: "select count(*) from orders", expect: { min: 1 } }' }).replace('objectives: { rto: 10m, rpo: 26h }\n', ''),
    );
    expect((await workspace.run(['run', 'orders'])).code).toBe(0);

    await mkdir(join(workspace.directory, 'out'));
    const result = await workspace.run(['gameday', 'orders', '--html', 'out/gameday.html']);

    expect(result.code, result.stderr).toBe(1);
    expect(result.stdout).toMatch(/^drill orders, backup \S+: 4 of 8 defects caught$/m);
    const page = await readFile(join(workspace.directory, 'out/gameday.html'), 'utf8');
    expect(page).toContain('data-status="failed"');
    expect(page).toContain('data-defect="stale-backup" data-result="NOT CAUGHT"');
    for (const missed of ['manifest-counts', 'table-data-missing', 'index-missing', 'stale-backup']) expect(result.stdout).toMatch(new RegExp(`^\\s+${missed}\\s+NOT CAUGHT\\s`, 'm'));
    expect(result.stdout).toMatch(/^\s+wrong-identity\s+n\/a\s+.*the backup is not encrypted/m);
    expect(result.stdout).toContain('findings:');
    expect(result.stdout).toMatch(/manifest-counts: add a fingerprint check/);
    expect(result.stdout).toMatch(/table-data-missing: add a fingerprint check .*or sql checks that count the rows/);
    expect(result.stdout).toMatch(/stale-backup: set objectives\.rpo/);
  });

  it('refuses a drill that fails on its backup as it is: defects would prove nothing', async () => {
    const { workspace } = context;
    await workspace.writeFile('drills/orders.yaml', drillFile());
    expect((await workspace.run(['run', 'orders'])).code).toBe(0);
    await workspace.writeFile('drills/orders.yaml', drillFile({ checks: '  - { name: impossible, type: sql, query: "select count(*) from orders", expect: { equals: -1 } }' }));

    const result = await workspace.run(['gameday', 'orders']);

    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/drill "orders" does not pass on backup \S+ itself \(failed: check "impossible" failed.*\); a gameday needs a drill that passes on an undamaged backup/);
  });

  it('catches a sandbox without an extension the dump needs, by an error that names it', async () => {
    const { workspace, source } = context;
    const url = await createSourceDatabase(source, 'words', "create extension pg_trgm; create table words (word text); insert into words values ('firedrill'), ('gameday'); create index words_trgm on words using gin (word gin_trgm_ops);");
    await workspace.writeFile('drills/words.yaml', drillFile({ checks: '  - { type: fingerprint }' }).replace('${SOURCE_URL}', url));
    expect((await workspace.run(['run', 'words'])).code).toBe(0);

    const result = await workspace.run(['gameday', 'words', '--json']);

    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as GamedayReport;
    const defect = report.defects.find((entry) => entry.id === 'missing-extension');
    expect(defect).toMatchObject({ applicable: true, caught: true, status: 'error' });
    expect(defect?.caughtBy).toMatch(/^sandbox error: the backup uses extension pg_trgm, which .* does not have/);
  });
});
