import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDrillFolder, type DrillFolder } from './drill-folder.ts';
import { loadDrills, loadRunnerConfig } from '../../../src/config/load.ts';

/**
 * Drills of files and of several targets, as the loader sees them: relative
 * paths become absolute against the drill file, checks get their target
 * filled in when there is only one of the kind, and every mistake in naming
 * targets is a config problem that says what to write instead.
 */

let folder: DrillFolder;
beforeEach(async () => {
  folder = await createDrillFolder();
});
afterEach(async () => {
  await folder.remove();
});

const TARGETS = `targets:
  db: { type: postgres, url: "postgres://app@127.0.0.1/app" }
  uploads: { type: files, paths: [uploads, /srv/shared] }
`;

describe('files sources and targets', () => {
  it('resolves relative paths against the drill file and fills in each check\'s only target of its kind', async () => {
    await folder.write(
      'drills/app.yaml',
      `${TARGETS}checks:
  - { type: fingerprint }
  - { type: files, sample: 10% }
  - { type: references, files: uploads, query: "select path from attachments" }
`,
    );
    const loaded = await folder.load();
    expect(loaded.problems.size).toBe(0);
    const [drill] = loaded.drills;
    expect(drill?.targets?.['uploads']).toMatchObject({ type: 'files', paths: [join(folder.directory, 'drills/uploads'), '/srv/shared'], symlinks: 'keep', onUnreadable: 'fail' });
    expect(drill?.checks.map((check) => [check.type, check.target])).toEqual([
      ['fingerprint', 'db'],
      ['files', 'uploads'],
      ['references', 'db'],
    ]);
  });

  it('says when a check names no target among several, a target that does not exist, or one of the wrong kind', async () => {
    await folder.write(
      'drills/app.yaml',
      `targets:
  db: { type: postgres, url: "postgres://app@127.0.0.1/app" }
  uploads: { type: files, paths: [/srv/uploads] }
  config: { type: files, paths: [/srv/config] }
checks:
  - { type: files }
  - { name: wrong kind, type: sql, target: uploads, query: "select true" }
  - { name: no such, type: command, target: logs, command: [/bin/true] }
  - { name: refs, type: references, files: db, query: "select path from attachments" }
`,
    );
    expect(await folder.problemLines('app')).toEqual([
      'drills/app.yaml: checks[0].target: is required: this drill has several files targets (uploads, config); name the one this check reads',
      'drills/app.yaml: checks[1].target: names "uploads", a files target; a sql check needs a postgres target',
      'drills/app.yaml: checks[2].target: names "logs", which is not a target of this drill (targets: db, uploads, config)',
      'drills/app.yaml: checks[3].files: names "db", a postgres target; a references check needs a files target',
    ]);
  });

  it('refuses a files check in a drill of a database only, and source together with targets', async () => {
    await folder.write('drills/db.yaml', `source: { type: postgres, url: "postgres://app@127.0.0.1/app" }\nchecks:\n  - { type: files }\n`);
    await folder.write('drills/both.yaml', `source: { type: files, paths: [/srv] }\n${TARGETS}`);
    expect(await folder.problemLines('db')).toEqual(['drills/db.yaml: checks[0].target: a files check needs a files target, and this drill has none']);
    expect(await folder.problemLines('both')).toEqual([
      'drills/both.yaml: targets: and source exclude each other: a drill backs up one source, several targets, or drills existing backups',
    ]);
  });

  it('refuses two paths with the same base name, an invalid sample, and a command given as a string', async () => {
    await folder.write(
      'drills/files.yaml',
      `source: { type: files, paths: [/a/uploads, /b/uploads] }
checks:
  - { type: files, sample: 150% }
  - { type: command, command: "sqlite3 app.db" }
`,
    );
    expect(await folder.problemLines('files')).toEqual([
      'drills/files.yaml: source.paths[1]: has the same base name "uploads" as paths[0]; with several paths each is restored under its base name',
      'drills/files.yaml: checks[0].sample: expected a percentage above 0% and at most 100%',
      'drills/files.yaml: checks[1].command: expected a list, got "sqlite3 app.db"',
    ]);
  });

  it('loads the example drill of several targets that ships in drills/examples', async () => {
    const root = resolve(import.meta.dirname, '../../..');
    const runner = await loadRunnerConfig(undefined, { cwd: root, env: {} });
    const loaded = await loadDrills('drills/examples', runner, { cwd: root, env: { APP_DB_PASSWORD: 'example' } });
    expect([...loaded.problems.entries()]).toEqual([]);
    expect(loaded.drills.map((drill) => drill.name)).toEqual(['app-with-uploads']);
  });
});
