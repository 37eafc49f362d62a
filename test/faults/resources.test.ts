import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { reportOf, useFaultScene } from '../support/fault-scene.ts';
import { createSourceDatabase, drillFile } from '../support/source-database.ts';
import { processesMentioning } from '../support/workspace.ts';
import { describeNeeding } from '../support/prerequisite.ts';

/**
 * A full filesystem: where a backup is written (a local repository on a
 * small tmpfs) and TMPDIR during a restore (the sandbox's data directory on a
 * small tmpfs). A clear error saying where space ran out and what to do,
 * nothing committed, nothing left on the full filesystem.
 *
 * Mounting needs root (CAP_SYS_ADMIN), which CI has: FIREDRILL_REQUIRE_TMPFS=1
 * there, like the Docker and browser prerequisites.
 */

const scene = useFaultScene();

const canMount = process.getuid?.() === 0 && tryMount();

function tryMount(): boolean {
  const probe = mkdtempSync(join(tmpdir(), 'firedrill-tmpfs-probe-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe], { stdio: 'ignore' });
    execFileSync('umount', [probe]);
    return true;
  } catch {
    return false;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}

/** Mounts a tmpfs of `size` on `directory` for the length of `body`; a failure of `body` is never hidden by the unmount. */
async function withTmpfs<T>(directory: string, size: string, body: () => Promise<T>): Promise<T> {
  await mkdir(directory, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=1777`, 'tmpfs', directory]);
  try {
    return await body();
  } finally {
    try {
      execFileSync('umount', [directory], { stdio: 'pipe' });
    } catch {
      // Busy (something left running on it, which the test reports): detach it now, gone once the last user is.
      execFileSync('umount', ['--lazy', directory]);
    }
  }
}

let bigUrl: string | undefined;

async function bigDrillUrl(): Promise<string> {
  bigUrl ??= await createSourceDatabase(
    scene.source,
    'big',
    "create table blobs as select g as id, string_agg(md5(random()::text), '') as body from generate_series(1, 12000) g, generate_series(1, 120) part group by g",
  );
  return bigUrl;
}

const BIG_CHECK = '  - { name: rows, type: sql, query: "select count(*) from blobs", expect: { min: 1 } }';

describeNeeding(
  { what: 'a tmpfs mount', missing: canMount ? undefined : 'mounting a tmpfs needs root with CAP_SYS_ADMIN', requiredBy: 'FIREDRILL_REQUIRE_TMPFS' },
  'a full filesystem',
  () => {
    it('during a backup to a local repository: an error naming the path and what to do; the partial backup removed', async () => {
      const full = join(scene.workspace.directory, 'full');
      const config = join(scene.workspace.directory, 'config/firedrill.yaml');
      await writeFile(config, `defaults: { repository: offsite }\n${(await readFile(config, 'utf8')).replace('repositories:\n', 'repositories:\n  nearby: { type: local, path: ./full }\n')}`);
      await scene.writeDrill(drillFile({ checks: BIG_CHECK, backup: '{ repository: nearby }' }).replace('url: ${SOURCE_URL}', `url: ${await bigDrillUrl()}`));
      await withTmpfs(full, '4m', async () => {
        const result = await scene.drill();
        expect(result.code).toBe(2);
        const report = reportOf(result);
        expect(report.status).toBe('error');
        expect(report.error).toMatchObject({ kind: 'repository', phase: 'backup.dump' });
        expect(report.error?.message).toMatch(/No space left on device/);
        expect(report.error?.message).toContain(`The storage of local repository "nearby" at ${full} is full: nothing was committed`);
        expect(report.backup).toBeUndefined();
        // Nothing that looks like a backup stays on the full filesystem: at most the run's report.
        const left = await readdir(join(full, 'orders')).catch(() => []);
        expect(left.filter((name) => name !== 'reports')).toEqual([]);
      });
    });

    it('in TMPDIR during a files backup (its file index): an environment error naming TMPDIR, not the repository; nothing committed', async () => {
      const tree = join(scene.workspace.directory, 'tree');
      for (let directory = 0; directory < 20; directory++) {
        await mkdir(join(tree, `directory-with-a-long-name-${directory}`), { recursive: true });
        for (let file = 0; file < 200; file++) await writeFile(join(tree, `directory-with-a-long-name-${directory}`, `file-with-a-long-name-${file}.txt`), '');
      }
      await scene.writeDrill([`source: { type: files, paths: [${JSON.stringify(tree)}] }`, 'restore: { sandbox: local }', 'checks:', '  - { name: intact, type: files }', ''].join('\n'));
      await withTmpfs(scene.workspace.temporary, '256k', async () => {
        const result = await scene.drill();
        expect(result.code).toBe(2);
        const report = reportOf(result);
        expect(report.status).toBe('error');
        expect(report.error?.kind).toBe('sandbox');
        expect(report.error?.message).toMatch(/No space left on device|ENOSPC/);
        expect(report.error?.message).toContain('TMPDIR is full: firedrill keeps the index of every file there while it archives');
        expect(report.error?.message).not.toContain('The storage of');
        expect(report.backup).toBeUndefined();
        expect(await readdir(scene.workspace.temporary)).toEqual([]);
      });
      expect((await scene.backups()).filter((entry) => entry.status !== 'complete' || entry.id !== scene.earlier.id)).toEqual([]);
    });

    it('in TMPDIR during a restore: an environment error saying TMPDIR is full, not a bad backup; the sandbox removed', async () => {
      // Room for the fetched backup, not for the sandbox's cluster: the restore runs out of space where it always begins.
      await withTmpfs(scene.workspace.temporary, '20m', async () => {
        const result = await scene.drill();
        expect(result.code).toBe(2);
        const report = reportOf(result);
        expect(report.status).toBe('error');
        expect(report.error?.kind).toBe('sandbox');
        expect(report.error?.message).toMatch(/No space left on device|Check free disk space/);
        expect(report.error?.message).toContain(`A filesystem this restore writes to is full. TMPDIR (${scene.workspace.temporary}) holds`);
        // The backup was made before the restore and is complete: the restore's environment failed, not the backup.
        expect(report.backup?.id).toBeDefined();
        expect(await readdir(scene.workspace.temporary)).toEqual([]);
        expect(await processesMentioning(scene.workspace.temporary)).toEqual([]);
      });
    });
  },
);
