import { mkdir, readdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ageKeygen } from '../support/canaries.ts';
import { describe, expect, it } from 'vitest';
import { useWorkspace } from '../support/lifecycle.ts';
import { backupDigests } from '../support/workspace.ts';
import type { GamedayReport } from '../../src/gameday/gameday.ts';

/**
 * `firedrill gameday` on a files drill: damage inside the archive that the
 * integrity check cannot see (the manifest written for the damaged object).
 * A files check that hashes every file catches a changed file and a missing
 * one; one that hashes almost nothing still notices the missing file, and
 * is told that a changed one went by. The backup itself is never changed.
 */

const context = useWorkspace();

async function makeTree(root: string): Promise<void> {
  await mkdir(join(root, 'a/nested'), { recursive: true });
  await mkdir(join(root, 'b'), { recursive: true });
  await writeFile(join(root, 'a/1.png'), 'one');
  await writeFile(join(root, 'a/nested/2.png'), 'two');
  await writeFile(join(root, 'b/report.pdf'), 'the largest file of the tree, which the defects pick\n'.repeat(200));
  await writeFile(join(root, 'b/ünïcödé.txt'), 'unicode');
  await writeFile(join(root, 'empty'), '');
  await symlink('a/1.png', join(root, 'latest.png'));
}

function filesDrill(root: string, check: string): string {
  return [`source: { type: files, paths: [${JSON.stringify(root)}] }`, 'restore: { sandbox: local }', 'checks:', `  - ${check}`, 'objectives: { rpo: 26h }', ''].join('\n');
}

const outcome = (report: GamedayReport, id: string) => {
  const defect = report.defects.find((candidate) => candidate.id === id);
  return defect?.applicable ? (defect.caught ? 'caught' : 'missed') : 'n/a';
};

describe('firedrill gameday on a files drill', () => {
  it('catches a changed and a missing file with a files check of every file, encrypted, leaving the backup as it was', async () => {
    const { workspace } = context;
    const root = join(workspace.directory, 'uploads');
    await makeTree(root);
    const { recipient, secretKey: key } = ageKeygen();
    await workspace.writeFile(
      'config/firedrill.yaml',
      `repositories:\n  local: { type: local, path: ./var/backups, encryption: { recipients: [${recipient}], identity: { env: AGE_IDENTITY } } }\n`,
    );
    await workspace.writeFile('drills/uploads.yaml', filesDrill(root, '{ name: every file intact, type: files, sample: all }'));
    const env = { AGE_IDENTITY: key };
    expect((await workspace.run(['run', 'uploads'], env)).code).toBe(0);
    const before = await backupDigests(join(workspace.directory, 'var/backups/uploads'));

    const result = await workspace.run(['gameday', 'uploads', '--json'], env);

    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as GamedayReport;
    expect(report.baseline.status).toBe('passed');
    expect(outcome(report, 'file-content-changed')).toBe('caught');
    expect(outcome(report, 'file-missing')).toBe('caught');
    expect(report.score.caught).toBe(report.score.applicable);
    const by = Object.fromEntries(report.defects.map((defect) => [defect.id, defect.caughtBy]));
    // Not the integrity check: the manifest matches the damaged archive, and only the files check can tell.
    expect(by['file-content-changed']).toBe('check "every file intact"');
    expect(by['file-missing']).toBe('check "every file intact"');
    // Damage the manifest does not account for is the integrity check's.
    expect(by['flipped-byte']).toMatch(/^integrity error: object source\.\S+\.zst\.age of backup \S+ does not match its manifest/);
    expect(await backupDigests(join(workspace.directory, 'var/backups/uploads'))).toEqual(before);
    expect(await readdir(join(workspace.directory, 'var/reports/uploads'))).toHaveLength(1);
    expect(`${result.stdout}${result.stderr}`).not.toContain('AGE-SECRET-KEY-');
  });

  it('tells a drill that hashes almost no file that a changed file went by, and exits 1', async () => {
    const { workspace } = context;
    const root = join(workspace.directory, 'uploads');
    await makeTree(root);
    // One file in a million hashed: the changed file is all but never drawn, while sizes and presence are compared for every file.
    await workspace.writeFile('drills/uploads.yaml', filesDrill(root, '{ name: tree complete, type: files, sample: "0.0001%" }'));
    expect((await workspace.run(['run', 'uploads'])).code).toBe(0);
    const before = await backupDigests(join(workspace.directory, 'var/backups/uploads'));

    const result = await workspace.run(['--log-level', 'info', 'gameday', 'uploads']);

    expect(result.code, result.stderr).toBe(1);
    // The file the defects picked, said in the log: the largest.
    const picked = result.stderr.split('\n').filter((line) => line.includes('the largest file')).map((line) => (JSON.parse(line) as { msg: string; path: string }));
    expect(picked.map(({ msg, path }) => [msg, path])).toEqual([
      ['gameday: changing one byte of the largest file in the archive', 'b/report.pdf'],
      ['gameday: leaving the largest file out of the archive', 'b/report.pdf'],
    ]);
    expect(result.stdout).toMatch(/^\s+file-content-changed\s+NOT CAUGHT\s/m);
    expect(result.stdout).toMatch(/^\s+file-missing\s+caught\s.*check "tree complete"/m);
    expect(result.stdout).toContain('findings:');
    expect(result.stdout).toContain(
      'file-content-changed: add a files check that verifies the content of every file (checks: [{ type: files, sample: all }]; all is the default), or a larger sample',
    );
    expect(result.stdout.slice(result.stdout.indexOf('findings:'))).not.toContain('file-missing');
    expect(await backupDigests(join(workspace.directory, 'var/backups/uploads'))).toEqual(before);
  });

  it('misses both with only a command check, and says what to add for each', async () => {
    const { workspace } = context;
    const root = join(workspace.directory, 'uploads');
    await makeTree(root);
    await workspace.writeFile('drills/uploads.yaml', filesDrill(root, '{ name: pictures there, type: command, command: [test, -f, a/1.png] }'));
    expect((await workspace.run(['run', 'uploads'])).code).toBe(0);

    const result = await workspace.run(['gameday', 'uploads']);

    expect(result.code, result.stderr).toBe(1);
    expect(result.stdout).toMatch(/^\s+file-content-changed\s+NOT CAUGHT\s/m);
    expect(result.stdout).toMatch(/^\s+file-missing\s+NOT CAUGHT\s/m);
    expect(result.stdout).toContain("file-missing: add a files check (checks: [{ type: files }]): it compares the restored tree with the backup's index");
  });
});
