import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { useSourceDatabase } from '../support/lifecycle.ts';
import { createSourceDatabase } from '../support/source-database.ts';
import { processesMentioning } from '../support/workspace.ts';
import { waitFor } from '../support/wait.ts';
import { serializeManifest, type Manifest } from '../../src/repository/manifest.ts';
import type { Report } from '../../src/report/report.ts';

/**
 * Files as a user drills them: a directory backed up, restored into a
 * throwaway directory and verified; a database and its attachments drilled
 * together, where a missing attachment fails the drill by name; and a crafted
 * archive that cannot write outside the restore directory.
 */

const context = useSourceDatabase();

async function makeTree(root: string): Promise<void> {
  await mkdir(join(root, 'a/nested'), { recursive: true });
  await mkdir(join(root, 'b'), { recursive: true });
  await writeFile(join(root, 'a/1.png'), 'one');
  await writeFile(join(root, 'a/nested/2.png'), 'two');
  await writeFile(join(root, 'b/3.png'), 'three');
  await writeFile(join(root, 'b/ünïcödé.txt'), 'unicode');
  await writeFile(join(root, 'empty'), '');
  await writeFile(join(root, 'notes.txt'), 'hello\nworld\n');
  await symlink('a/1.png', join(root, 'latest.png'));
}

function filesDrill(root: string, checks: string[], extra = ''): string {
  return [
    `source: { type: files, paths: [${JSON.stringify(root)}], exclude: ["*.tmp"] }`,
    'restore: { sandbox: local }',
    'checks:',
    ...checks.map((check) => `  - ${check}`),
    extra,
    '',
  ].join('\n');
}

describe('files drills', () => {
  it('backs up a directory, restores it into a throwaway directory and verifies it, leaving nothing behind', async () => {
    const { workspace } = context;
    const root = join(workspace.directory, 'uploads');
    await makeTree(root);
    await writeFile(join(root, 'scratch.tmp'), 'left out');
    await workspace.writeFile(
      'drills/uploads.yaml',
      filesDrill(root, [
        '{ name: uploads intact, type: files, sample: 50%, paths: [notes.txt, a/nested] }',
        '{ name: notes readable, type: command, command: [grep, -c, "o", notes.txt], expect: { stdout: "^2$" } }',
      ]),
    );
    const result = await workspace.run(['run', 'uploads', '--json']);
    const report = JSON.parse(result.stdout) as Report;
    expect(report.status, result.stderr).toBe('passed');
    expect(result.code).toBe(0);
    expect(report.checks.map((check) => [check.name, check.status])).toEqual([
      ['uploads intact', 'passed'],
      ['notes readable', 'passed'],
    ]);
    expect(report.checks[0]?.message).toMatch(/^6 files \(\d+ B\), 3 directories and 1 link match the backup; content verified for \d+ sampled \(50%\); 2 required paths present$/);
    expect(report.backup?.targets).toEqual([expect.objectContaining({ name: 'source', engine: 'files', source: root, files: { count: 6, bytes: 30 } })]);
    expect(report.backup?.objects.map((object) => object.name)).toEqual(['source.tar.zst', 'source.files.jsonl.zst']);

    // The terminal summary names the target, what it holds, and where it was restored.
    const human = await workspace.run(['run', 'uploads', '--from-backup', 'latest']);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(`target   source (files): ${root}; 6 files, 30 B; restored into a throwaway directory`);
  });

  it('restore --keep leaves the restored files in place until Ctrl-C, then removes them', async () => {
    const { workspace } = context;
    const root = join(workspace.directory, 'uploads');
    await makeTree(root);
    await workspace.writeFile('drills/uploads.yaml', filesDrill(root, ['{ type: files }']));
    expect((await workspace.run(['run', 'uploads'])).code).toBe(0);
    const { child, result } = workspace.start(['restore', 'uploads', '--keep']);
    let stdout = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    await waitFor(() => stdout.includes('press Ctrl-C'), 'the restore to wait for Ctrl-C');
    const directory = /source: files in (\S+)/.exec(stdout)?.[1] as string;
    expect(await readFile(join(directory, 'b/3.png'), 'utf8')).toBe('three');
    child.kill('SIGINT');
    const finished = await result;
    expect(finished.code).toBe(0);
    await expect(readdir(directory)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('fails the files check when a required path is missing, and the command check on a wrong exit status', async () => {
    const { workspace } = context;
    const root = join(workspace.directory, 'uploads');
    await makeTree(root);
    await workspace.writeFile(
      'drills/uploads.yaml',
      filesDrill(root, [
        '{ name: uploads intact, type: files, paths: [app.db] }',
        '{ name: database sane, type: command, command: [sh, -c, "echo broken >&2; exit 3"] }',
      ]),
    );
    const result = await workspace.run(['run', 'uploads', '--json']);
    const report = JSON.parse(result.stdout) as Report;
    expect(result.code).toBe(1);
    expect(report.checks.map((check) => [check.status, check.message])).toEqual([
      ['failed', '1 difference from the backup: required path app.db is missing'],
      ['failed', 'sh -c echo broken >&2; exit 3 exited with status 3, expected 0: broken'],
    ]);
  });

  it('stops a command that overruns its timeout, with everything it started', async () => {
    const { workspace } = context;
    const root = join(workspace.directory, 'uploads');
    await makeTree(root);
    const marker = `firedrill-test-${process.pid}-${Date.now()}`;
    await workspace.writeFile(
      'drills/uploads.yaml',
      filesDrill(root, [`{ name: hangs, type: command, timeout: 2s, command: [sh, -c, "sleep 300 & sleep 300; echo $0", ${marker}] }`]),
    );
    const result = await workspace.run(['run', 'uploads', '--json']);
    const report = JSON.parse(result.stdout) as Report;
    expect(result.code).toBe(1);
    expect(report.checks[0]?.message).toContain("timed out after 2s (the check's timeout)");
    expect(await processesMentioning(marker)).toEqual([]);

    // A command that exits at once but leaves a process behind in the background: that process ends with it.
    await workspace.writeFile(
      'drills/uploads.yaml',
      filesDrill(root, [`{ name: leaves a process, type: command, command: [sh, -c, "sh -c 'sleep 300; echo $0' ${marker}-bg & echo started"] }`]),
    );
    const quick = JSON.parse((await workspace.run(['run', 'uploads', '--json'])).stdout) as Report;
    expect(quick.checks[0]).toMatchObject({ status: 'passed', message: expect.stringContaining('exited with status 0') as string });
    expect(quick.checks[0]?.durationMs).toBeLessThan(10_000);
    expect(await processesMentioning(marker)).toEqual([]);
  });

  it('drills a database and its attachments together; a missing attachment fails the references check by name', async () => {
    const { workspace, source } = context;
    const url = await createSourceDatabase(
      source,
      `attachments_${Date.now()}`,
      "create table attachments (id serial primary key, path text); insert into attachments (path) values ('a/1.png'), ('a/nested/2.png'), ('b/3.png'), (null);",
    );
    const root = join(workspace.directory, 'uploads');
    await makeTree(root);
    const drill = [
      'targets:',
      `  db: { type: postgres, url: ${JSON.stringify(url)}, password: { env: SOURCE_PASSWORD } }`,
      `  uploads: { type: files, paths: [${JSON.stringify(root)}] }`,
      'restore: { sandbox: local }',
      'checks:',
      '  - { name: uploads intact, type: files, target: uploads, sample: 10 }',
      '  - { name: attachments present, type: references, target: db, files: uploads, query: "select path from attachments order by id" }',
      '  - { name: nothing lost, type: fingerprint }',
      'objectives: { rpo: 1h }',
      '',
    ].join('\n');
    await workspace.writeFile('drills/app.yaml', drill);
    const passed = JSON.parse((await workspace.run(['run', 'app', '--json'])).stdout) as Report;
    expect(passed.status, passed.summary).toBe('passed');
    expect(passed.checks.map((check) => check.message)).toEqual([
      expect.stringMatching(/^6 files .* content verified for 6 sampled \(10\)$/),
      'all 3 referenced paths exist in target "uploads" (1 NULL paths not checked)',
      expect.stringMatching(/^matches the source snapshot/),
    ]);
    expect(passed.backup?.targets.map((target) => `${target.name} ${target.engine}`)).toEqual(['db postgres', 'uploads files']);
    expect(passed.restore?.targets?.map((target) => target.name)).toEqual(['db', 'uploads']);
    expect(passed.phases.map((phase) => phase.name)).toEqual(expect.arrayContaining(['restore.fetch:db', 'restore.fetch:uploads', 'restore.unpack:uploads']));

    // The attachment is gone from the files before the next backup: the database still refers to it.
    await rm(join(root, 'b/3.png'));
    const result = await workspace.run(['run', 'app', '--json']);
    const failed = JSON.parse(result.stdout) as Report;
    expect(result.code).toBe(1);
    expect(failed.checks.find((check) => check.name === 'attachments present')).toMatchObject({
      status: 'failed',
      message: '1 of 3 referenced paths are missing from target "uploads": b/3.png (1 NULL paths not checked)',
    });
  });

  it('refuses crafted archives restored with --from-backup ("..", an absolute name, a write through a link), writing nothing outside', async () => {
    const { workspace } = context;
    const root = join(workspace.directory, 'uploads');
    await makeTree(root);
    await workspace.writeFile('drills/uploads.yaml', filesDrill(root, ['{ type: files }']));
    // A real backup first, so the drill has a repository and a manifest to imitate.
    const real = JSON.parse((await workspace.run(['run', 'uploads', '--json'])).stdout) as Report;
    expect(real.status).toBe('passed');
    const repository = join(workspace.directory, 'var/backups/uploads');
    const manifest = JSON.parse(await readFile(join(repository, real.backup?.id as string, 'manifest.json'), 'utf8')) as Manifest;
    const outside = join(workspace.directory, 'outside');
    await mkdir(outside);

    /** A backup whose archive holds `entries`, with a manifest that records its true size and SHA-256: it passes verification. */
    const craft = async (backupId: string, entries: { name: string; type?: 'symlink'; linkname?: string; content?: string }[]) => {
      const directory = join(repository, backupId);
      await mkdir(directory);
      const archive = join(directory, 'source.tar');
      const pack = tar.pack();
      const writing = pipeline(Readable.from(pack), createWriteStream(archive));
      for (const { content, ...header } of entries) {
        if (content === undefined) pack.entry(header);
        else pack.entry(header, content);
      }
      pack.finalize();
      await writing;
      await writeFile(join(directory, 'source.files.jsonl'), '');
      const stored = (name: string, content: Buffer) => ({
        name,
        target: 'source',
        sizeBytes: content.length,
        sha256: createHash('sha256').update(content).digest('hex'),
        compression: 'none' as const,
      });
      const forged: Manifest = {
        ...manifest,
        backupId,
        objects: [stored('source.tar', await readFile(archive)), stored('source.files.jsonl', Buffer.alloc(0))],
        targets: manifest.targets.map((target) => ({ ...target, metadata: { ...target.metadata, archive: 'source.tar', index: 'source.files.jsonl' } })),
      };
      await writeFile(join(directory, 'manifest.json'), serializeManifest(forged));
    };
    await craft('20990101T000000Z-dotdot', [{ name: 'innocent.txt', content: 'fine' }, { name: '../../../../escaped-by-dotdot', content: 'evil' }]);
    await craft('20990101T000000Z-absolute', [{ name: join(outside, 'escaped-absolute'), content: 'evil' }]);
    await craft('20990101T000000Z-link', [
      { name: 'door', type: 'symlink', linkname: outside },
      { name: 'door/escaped-through-link', content: 'evil' },
    ]);

    const before = await readdir(workspace.directory, { recursive: true });
    for (const [backupId, message] of [
      ['20990101T000000Z-dotdot', 'holds the entry "../../../../escaped-by-dotdot", which would be written outside the restore directory'],
      ['20990101T000000Z-absolute', `holds the entry "${join(outside, 'escaped-absolute')}", which would be written outside the restore directory`],
      ['20990101T000000Z-link', 'holds "door/escaped-through-link", below the symbolic link "door": writing it would go through the link'],
    ] as const) {
      const result = await workspace.run(['run', 'uploads', '--from-backup', backupId, '--json']);
      const report = JSON.parse(result.stdout) as Report;
      expect(result.code, backupId).toBe(1);
      expect(report.status).toBe('failed');
      expect(report.error?.message).toContain(message);
    }
    const after = await readdir(workspace.directory, { recursive: true });
    expect(after.filter((entry) => entry.includes('escaped'))).toEqual([]);
    expect(after.filter((entry) => !before.includes(entry) && !entry.startsWith('var/'))).toEqual([]);
    expect(await readdir(outside)).toEqual([]);
  });

  it('backs up a 1 GB sparse file with firedrill staying under 200 MB of memory', async () => {
    const { workspace } = context;
    const root = join(workspace.directory, 'disks');
    await mkdir(root);
    await writeFile(join(root, 'disk.img'), '');
    await truncate(join(root, 'disk.img'), 1024 * 1024 * 1024);
    await writeFile(join(root, 'disk.vmx'), 'config');
    await workspace.writeFile('drills/disks.yaml', filesDrill(root, ['{ type: files, sample: all }']));
    const { child, result } = workspace.start(['run', 'disks', '--json']);
    let peakKb = 0;
    const timer = setInterval(() => {
      readFile(`/proc/${child.pid}/status`, 'utf8').then(
        (status) => (peakKb = Math.max(peakKb, Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0))),
        () => undefined,
      );
    }, 50);
    const finished = await result;
    clearInterval(timer);
    const report = JSON.parse(finished.stdout) as Report;
    expect(report.status, finished.stderr).toBe('passed');
    expect(report.backup?.targets[0]?.files).toEqual({ count: 2, bytes: 1024 * 1024 * 1024 + 6 });
    expect(peakKb).toBeGreaterThan(0);
    expect(peakKb / 1024).toBeLessThan(200);
  });
});
