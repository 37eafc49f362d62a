import { execFileSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useSourceDatabase } from '../support/lifecycle.ts';
import { createSourceDatabase } from '../support/source-database.ts';
import type { GamedayReport } from '../../src/gameday/gameday.ts';

/**
 * The project's own example drills must prove they can fail: `firedrill
 * gameday` on drills/demo.yaml (a database) and on
 * drills/examples/app-with-uploads.yaml (a database, its uploads and two
 * config files) catches every defect that applies. The files are used as
 * shipped; only the example's connection and paths are pointed at this test.
 */

const context = useSourceDatabase();
const REPOSITORY_ROOT = resolve(import.meta.dirname, '../..');

function expectEveryApplicableDefectCaught(report: GamedayReport): void {
  const missed = report.defects.filter((defect) => defect.applicable && !defect.caught).map((defect) => `${defect.id}: ${JSON.stringify(defect)}`);
  expect(missed).toEqual([]);
  expect(report.score.inconclusive).toBe(0);
  expect(report.score.caught).toBe(report.score.applicable);
}

describe('gameday on the example drills', () => {
  it('drills/demo.yaml: every applicable defect caught, after `firedrill demo`', async () => {
    const { workspace } = context;
    await workspace.writeFile('drills/demo.yaml', await readFile(join(REPOSITORY_ROOT, 'drills/demo.yaml'), 'utf8'));
    const demo = await workspace.run(['demo']);
    expect(demo.code, demo.stderr).toBe(0);

    const result = await workspace.run(['gameday', 'demo', '--json']);
    expect(result.code, `${result.stdout}\n${result.stderr.slice(-3000)}`).toBe(0);
    const report = JSON.parse(result.stdout) as GamedayReport;
    expect(report.baseline.status).toBe('passed');
    expectEveryApplicableDefectCaught(report);
    // A database drill without encryption: the files defects and the wrong identity do not apply.
    expect(report.defects.filter((defect) => !defect.applicable).map((defect) => defect.id).sort()).toEqual(['file-content-changed', 'file-missing', 'missing-extension', 'wrong-identity']);
  });

  it('drills/examples/app-with-uploads.yaml: every applicable defect caught, the database and the files', async () => {
    const { workspace } = context;
    // The application: attachments rows pointing at uploaded files, and a SQLite database and settings beside them.
    const url = await createSourceDatabase(
      context.source,
      'app',
      `create table attachments (id serial primary key, path text, created_at timestamptz not null default now());
       insert into attachments (path) select format('%s/%s.bin', g % 7, g) from generate_series(1, 40) g;
       insert into attachments (path) values (null);
       create index attachments_path on attachments (path);`,
    );
    const uploads = join(workspace.directory, 'srv/app/uploads');
    const shared = join(workspace.directory, 'srv/app/shared');
    for (let id = 1; id <= 40; id++) {
      await mkdir(join(uploads, String(id % 7)), { recursive: true });
      await writeFile(join(uploads, `${id % 7}/${id}.bin`), `attachment ${id}\n`.repeat(id * 10));
    }
    await mkdir(join(uploads, 'cache'), { recursive: true });
    await writeFile(join(uploads, 'cache/thumbnail.tmp'), 'not backed up');
    await mkdir(shared, { recursive: true });
    await writeFile(join(shared, 'settings.yml'), 'mode: production\n');
    execFileSync('sqlite3', [join(shared, 'app.sqlite3'), 'create table jobs (id integer primary key, name text); insert into jobs (name) values (\'nightly\');']);

    const example = (await readFile(join(REPOSITORY_ROOT, 'drills/examples/app-with-uploads.yaml'), 'utf8'))
      .replace('postgres://backup@db.internal:5432/app', url)
      .replaceAll('/srv/app/', `${workspace.directory}/srv/app/`);
    await workspace.writeFile('drills/app-with-uploads.yaml', example);
    const env = { APP_DB_PASSWORD: context.source.password.reveal() };
    const run = await workspace.run(['run', 'app-with-uploads', '--json'], env);
    expect(run.code, run.stderr.slice(-3000)).toBe(0);

    const result = await workspace.run(['gameday', 'app-with-uploads', '--json'], env);
    expect(result.code, `${result.stdout}\n${result.stderr.slice(-3000)}`).toBe(0);
    const report = JSON.parse(result.stdout) as GamedayReport;
    expect(report.baseline.status).toBe('passed');
    expectEveryApplicableDefectCaught(report);
    expect(report.defects.filter((defect) => defect.applicable).map((defect) => defect.id)).toEqual(expect.arrayContaining(['table-data-missing', 'index-missing', 'file-content-changed', 'file-missing']));
  });
});
