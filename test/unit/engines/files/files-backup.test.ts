import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { appendFile, chmod, copyFile, mkdir, mkdtemp, readFile, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ObjectSink } from '../../../../src/interfaces.ts';
import { DrillRunContext } from '../../../../src/drill/run-context.ts';
import { silentLogger } from '../../../../src/logger.ts';
import { backupFiles } from '../../../../src/engines/files/files-backup.ts';
import type { FilesMetadata, FilesTarget } from '../../../../src/engines/files/files-engine.ts';
import { readFileIndex, type FileIndexEntry } from '../../../../src/engines/files/file-index.ts';
import { extractArchive } from '../../../../src/engines/files/safe-extract.ts';

/**
 * Backing up a real tree: the archive holds what the tree holds, the index
 * records every file with the SHA-256 of what was archived, and what cannot
 * be archived as it is (FIFOs, sockets, loops, files that change while read,
 * unreadable files) is a warning or an error, as configured.
 */

let base: string;
let tree: string;
let stored: string;
beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'firedrill-files-backup-'));
  tree = join(base, 'tree');
  stored = join(base, 'stored');
  await mkdir(tree);
  await mkdir(stored);
});
afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

/** A sink that writes each object to `stored/`, the archive optionally through `through` (to act while a file is being read). */
function fileSink(through?: () => Transform): ObjectSink {
  return {
    compresses: false,
    write: async (name: string, body: Readable) => {
      const hash = createHash('sha256');
      let size = 0;
      const counting = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          hash.update(chunk);
          size += chunk.length;
          done(null, chunk);
        },
      });
      await pipeline([body, ...(through && name.endsWith('.tar') ? [through()] : []), counting, createWriteStream(join(stored, name))]);
      return { name, target: 'uploads', sizeBytes: size, sha256: hash.digest('hex') };
    },
  };
}

async function backUp(options: Partial<FilesTarget> = {}, sink = fileSink()) {
  const context = new DrillRunContext({ runId: 'test', drillName: 'test', logger: silentLogger, signal: new AbortController().signal, clock: () => new Date() });
  try {
    const record = await backupFiles(context, 'uploads', { paths: [tree], exclude: [], symlinks: 'keep', onUnreadable: 'fail', configuredIn: 'test', ...options }, sink);
    return record.metadata as FilesMetadata;
  } finally {
    await context.releasers.releaseAll();
  }
}

async function indexEntries(): Promise<FileIndexEntry[]> {
  const entries: FileIndexEntry[] = [];
  for await (const entry of readFileIndex(join(stored, 'uploads.files.jsonl'), 'the index')) entries.push(entry);
  return entries;
}

const sha256 = (text: string | Buffer) => createHash('sha256').update(text).digest('hex');

describe('backupFiles', () => {
  it('archives nested directories, unicode names, empty files and links, and indexes each with its SHA-256', async () => {
    await mkdir(join(tree, 'a/b'), { recursive: true });
    await writeFile(join(tree, 'a/b/ünïcödé 📎.txt'), 'attachment');
    await writeFile(join(tree, 'empty'), '');
    await chmod(join(tree, 'empty'), 0o640);
    await symlink('a/b/ünïcödé 📎.txt', join(tree, 'inside-link'));
    await symlink('/etc/hostname', join(tree, 'escaping-link'));
    const metadata = await backUp();

    expect(metadata).toMatchObject({ fileCount: 2, directoryCount: 2, symlinkCount: 2, totalBytes: 10, warningCount: 0, archive: 'uploads.tar', index: 'uploads.files.jsonl' });
    const entries = await indexEntries();
    expect(entries.map((entry) => entry.path)).toEqual(['a', 'a/b', 'a/b/ünïcödé 📎.txt', 'empty', 'escaping-link', 'inside-link']);
    expect(entries.find((entry) => entry.path === 'a/b/ünïcödé 📎.txt')).toMatchObject({ type: 'file', size: 10, sha256: sha256('attachment') });
    expect(entries.find((entry) => entry.path === 'empty')).toMatchObject({ type: 'file', size: 0, mode: 0o640, sha256: sha256('') });
    // Links are stored as links, never followed: the escaping one keeps its target and nothing of /etc is archived.
    expect(entries.find((entry) => entry.path === 'escaping-link')).toMatchObject({ type: 'symlink', target: '/etc/hostname' });

    const restored = join(base, 'restored');
    await mkdir(restored);
    await extractArchive(join(stored, 'uploads.tar'), restored, 'the archive', new AbortController().signal);
    expect(await readFile(join(restored, 'a/b/ünïcödé 📎.txt'), 'utf8')).toBe('attachment');
  });

  it('leaves out what exclude names, without entering excluded directories', async () => {
    await mkdir(join(tree, 'cache/deep'), { recursive: true });
    await writeFile(join(tree, 'cache/deep/x'), 'x');
    await writeFile(join(tree, 'keep.txt'), 'k');
    await writeFile(join(tree, 'scratch.tmp'), 't');
    await mkdir(join(tree, 'logs'));
    await writeFile(join(tree, 'logs/app.log'), 'l');
    await writeFile(join(tree, 'logs/keep.txt'), 'k');
    await backUp({ exclude: ['*.tmp', 'cache', 'logs/*.log'] });
    expect((await indexEntries()).map((entry) => entry.path)).toEqual(['keep.txt', 'logs', 'logs/keep.txt']);
  });

  it('skips FIFOs and sockets with a warning each', async () => {
    await writeFile(join(tree, 'data'), 'd');
    await new Promise<void>((resolvePromise, reject) => {
      const mkfifo = spawn('mkfifo', [join(tree, 'pipe')]);
      mkfifo.on('exit', (code) => (code === 0 ? resolvePromise() : reject(new Error(`mkfifo exited with ${code}`))));
    });
    const metadata = await backUp();
    expect(metadata.fileCount).toBe(1);
    expect(metadata.warnings).toEqual([{ path: join(tree, 'pipe'), problem: 'skipped: a FIFO (named pipe) holds no data to back up' }]);
  });

  it('follows links inside the tree with symlinks: follow, keeps links out of it as links, and does not loop', async () => {
    await mkdir(join(tree, 'real'));
    await writeFile(join(tree, 'real/file'), 'content');
    await symlink('real', join(tree, 'alias'));
    await symlink('..', join(tree, 'real/up'));
    await symlink('/etc', join(tree, 'outside'));
    const metadata = await backUp({ symlinks: 'follow' });
    const paths = (await indexEntries()).map((entry) => `${entry.type} ${entry.path}`);
    expect(paths).toEqual(['directory alias', 'file alias/file', 'symlink alias/up', 'symlink outside', 'directory real', 'file real/file', 'symlink real/up']);
    expect(metadata.warnings.map((warning) => warning.problem)).toEqual([
      'a symbolic link to one of its own parent directories (a loop): stored as a link, not followed',
      'a symbolic link to one of its own parent directories (a loop): stored as a link, not followed',
    ]);
  });

  it('archives what a followed link to a file points to, and a configured path that is a link to a file', async () => {
    await mkdir(join(tree, 'real'));
    await writeFile(join(tree, 'real/data.csv'), 'a,b');
    await symlink('real/data.csv', join(tree, 'current.csv'));
    await backUp({ symlinks: 'follow' });
    expect((await indexEntries()).find((entry) => entry.path === 'current.csv')).toMatchObject({ type: 'file', size: 3, sha256: sha256('a,b') });

    await rm(stored, { recursive: true });
    await mkdir(stored);
    const metadata = await backUp({ paths: [join(tree, 'current.csv')] });
    expect(metadata.warnings).toEqual([]);
    expect(await indexEntries()).toEqual([expect.objectContaining({ path: 'current.csv', type: 'file', sha256: sha256('a,b') })]);
  });

  it('skips a name that is not valid UTF-8, saying so rather than calling it vanished', async () => {
    await writeFile(join(tree, 'fine.txt'), 'ok');
    await writeFile(Buffer.concat([Buffer.from(`${tree}/`), Buffer.from([0x66, 0xff, 0x6f])]), 'latin-1 name');
    const metadata = await backUp();
    expect(metadata.fileCount).toBe(1);
    expect(metadata.warnings[0]?.problem).toBe('skipped: its name is not valid UTF-8 (bytes 66ff6f), which firedrill cannot archive');
  });

  it('streams a 1 GB sparse file in bounded memory', async () => {
    const size = 1024 * 1024 * 1024;
    await writeFile(join(tree, 'disk.img'), '');
    await truncate(join(tree, 'disk.img'), size);
    let peakBuffered = 0;
    const before = process.memoryUsage().rss;
    let peakRss = before;
    const discard = () =>
      new Transform({
        transform(chunk: Buffer, _encoding, done) {
          peakBuffered = Math.max(peakBuffered, this.writableLength);
          peakRss = Math.max(peakRss, process.memoryUsage().rss);
          // The archive is not kept: memory is what this test is about.
          done();
        },
      });
    const metadata = await backUp({}, fileSink(discard));
    expect(metadata.totalBytes).toBe(size);
    const zeros = createHash('sha256');
    const megabyte = Buffer.alloc(1024 * 1024);
    for (let written = 0; written < size; written += megabyte.length) zeros.update(megabyte);
    expect((await indexEntries())[0]).toMatchObject({ size, sha256: zeros.digest('hex') });
    expect(peakRss - before).toBeLessThan(128 * 1024 * 1024);
  });

  it('warns about a file that changes while it is read, and keeps going', async () => {
    const path = join(tree, 'growing.log');
    await writeFile(path, Buffer.alloc(8 * 1024 * 1024, 1));
    await writeFile(join(tree, 'z-after'), 'after');
    let touched = false;
    // After the first piece of the file is in the archive, the file grows.
    const touchOnce = () =>
      new Transform({
        transform(chunk: Buffer, _encoding, done) {
          if (touched || chunk.length === 0) return done(null, chunk);
          touched = true;
          appendFile(path, 'more').then(() => done(null, chunk), done);
        },
      });
    const metadata = await backUp({}, fileSink(touchOnce));
    expect(metadata.fileCount).toBe(2);
    expect(metadata.warnings).toEqual([{ path, problem: 'changed while it was read: its content in this backup may mix the old and the new' }]);
  });

  it('pads a file that shrinks while it is read, and says its content is not usable', async () => {
    const path = join(tree, 'shrinking');
    await writeFile(path, Buffer.alloc(8 * 1024 * 1024, 1));
    let cut = false;
    const cutOnce = () =>
      new Transform({
        transform(chunk: Buffer, _encoding, done) {
          if (cut || chunk.length === 0) return done(null, chunk);
          cut = true;
          truncate(path, 1024).then(() => done(null, chunk), done);
        },
      });
    const metadata = await backUp({}, fileSink(cutOnce));
    expect(metadata.totalBytes).toBe(8 * 1024 * 1024);
    expect(metadata.warnings[0]?.problem).toContain('shrank while it was read');
  });

  it('fails on an unreadable file by default, and skips it with a warning under onUnreadable: warn', async () => {
    await writeFile(join(tree, 'readable'), 'r');
    await writeFile(join(tree, 'secret'), 's');
    await chmod(join(tree, 'secret'), 0o000);
    await chmod(base, 0o755);
    await chmod(tree, 0o755);
    await chmod(stored, 0o777);
    // root reads anything: the walk then runs as "nobody", in a child, for the permission to mean something. That user
    // may not reach this Node binary (under root's home): it runs a copy.
    const asRoot = process.getuid?.() === 0;
    const node = asRoot ? join(base, 'node') : process.execPath;
    if (asRoot) await copyFile(process.execPath, node);
    await chmod(node, 0o755);
    const script = resolve(import.meta.dirname, 'unreadable-walk.ts');
    const runAs = (policy: string) =>
      new Promise<string>((resolvePromise, reject) => {
        const child = spawn(node, [script, tree, policy], { uid: asRoot ? 65534 : undefined, gid: asRoot ? 65534 : undefined });
        let output = '';
        child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
        child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
        child.on('error', reject);
        child.on('close', () => resolvePromise(output));
      });
    expect(await runAs('fail')).toContain(`cannot read ${join(tree, 'secret')}: EACCES`);
    const warned = JSON.parse(await runAs('warn')) as { files: string[]; warnings: { path: string; problem: string }[] };
    expect(warned.files).toEqual(['readable']);
    expect(warned.warnings).toEqual([{ path: join(tree, 'secret'), problem: expect.stringContaining('unreadable (EACCES') as string }]);
  });
});
