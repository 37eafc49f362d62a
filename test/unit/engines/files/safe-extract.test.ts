import { mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createWriteStream } from 'node:fs';
import tar, { type Header } from 'tar-stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UnsafeArchiveError, extractArchive } from '../../../../src/engines/files/safe-extract.ts';

/**
 * Unpacking a files target's archive: what firedrill writes comes back, and
 * a crafted archive (absolute names, "..", writes through a link) is refused
 * before it writes anything outside the restore directory.
 */

let base: string;
let target: string;
beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'firedrill-extract-'));
  target = join(base, 'restore', 'files');
  await mkdir(target, { recursive: true });
});
afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

type Entry = Partial<Header> & { name: string; content?: string | Buffer };

async function archive(entries: Entry[]): Promise<string> {
  const pack = tar.pack();
  const path = join(base, 'archive.tar');
  const writing = pipeline(Readable.from(pack), createWriteStream(path));
  for (const { content, ...header } of entries) {
    await new Promise<void>((resolve, reject) => {
      if (content === undefined) pack.entry(header, (error) => (error ? reject(error) : resolve()));
      else pack.entry(header, content, (error) => (error ? reject(error) : resolve()));
    });
  }
  pack.finalize();
  await writing;
  return path;
}

const extract = (path: string) => extractArchive(path, target, 'the test archive', new AbortController().signal);

/** Everything under `base` except the archive and the restore directory itself: what an escape would have written. */
async function outsideTarget(): Promise<string[]> {
  const entries = await readdir(base, { recursive: true });
  return entries.filter((entry) => entry !== 'archive.tar' && entry !== 'restore' && !entry.startsWith('restore/files')).sort();
}

describe('extractArchive', () => {
  it('restores files, directories, empty files, unicode names and links, with modes and mtimes', async () => {
    const mtime = new Date('2026-01-02T03:04:05Z');
    const path = await archive([
      { name: 'docs', type: 'directory', mode: 0o750, mtime },
      { name: 'docs/résumé ✓.txt', content: 'hello', mode: 0o640, mtime },
      { name: 'docs/empty', content: '', mode: 0o600, mtime },
      { name: 'docs/locked', content: 'x', mode: 0o400, mtime },
      { name: 'docs/link', type: 'symlink', linkname: 'résumé ✓.txt' },
      { name: 'escaping-link', type: 'symlink', linkname: '../../../etc/passwd' },
    ]);
    const result = await extract(path);
    expect(result).toEqual({ files: 3, directories: 1, symlinks: 2, bytes: 6 });
    // The throwaway copy stays readable and writable by its owner, whatever the archived mode.
    expect((await stat(join(target, 'docs/locked'))).mode & 0o777).toBe(0o600);
    expect(await readFile(join(target, 'docs/résumé ✓.txt'), 'utf8')).toBe('hello');
    expect((await stat(join(target, 'docs/résumé ✓.txt'))).mode & 0o777).toBe(0o640);
    expect((await stat(join(target, 'docs/résumé ✓.txt'))).mtime.toISOString()).toBe(mtime.toISOString());
    expect((await stat(join(target, 'docs/empty'))).size).toBe(0);
    expect(await readlink(join(target, 'docs/link'))).toBe('résumé ✓.txt');
    // A link may point anywhere: creating it writes nothing outside, and nothing is written through it.
    expect(await readlink(join(target, 'escaping-link'))).toBe('../../../etc/passwd');
    expect((await stat(join(target, 'docs'))).mtime.toISOString()).toBe(mtime.toISOString());
  });

  it('keeps runs of zeros as holes: a large sparse file takes little disk', async () => {
    const size = 64 * 1024 * 1024;
    const path = await archive([{ name: 'sparse.img', content: Buffer.alloc(size) }]);
    await extract(path);
    const restored = await stat(join(target, 'sparse.img'));
    expect(restored.size).toBe(size);
    expect(restored.blocks * 512).toBeLessThan(size / 16);
  });

  it.each([
    ['an absolute name', [{ name: '/tmp/firedrill-escape-absolute', content: 'x' }], 'outside the restore directory'],
    ['a ".." component', [{ name: '../../escape-dotdot', content: 'x' }], 'outside the restore directory'],
    ['a ".." inside the name', [{ name: 'a/../../../escape-inner', content: 'x' }], 'outside the restore directory'],
    [
      'a write through a link it placed',
      [
        { name: 'link', type: 'symlink' as const, linkname: '..' },
        { name: 'link/escape-through-link', content: 'x' },
      ],
      'below the symbolic link "link"',
    ],
    ['a hard link', [{ name: 'hard', type: 'link' as const, linkname: '/etc/passwd' }], 'which firedrill never archives'],
    ['a device', [{ name: 'null', type: 'character-device' as const, devmajor: 1, devminor: 3 }], 'which firedrill never archives'],
    ['a link without a target', [{ name: 'nowhere', type: 'symlink' as const, linkname: '' }], 'without a target'],
    [
      'a file where it put a link',
      [
        { name: 'same', type: 'symlink' as const, linkname: '../../escape-replaced' },
        { name: 'same', content: 'x' },
      ],
      'twice',
    ],
  ])('refuses %s and writes nothing outside the restore directory', async (_what, entries, message) => {
    const path = await archive(entries);
    const failure = await extract(path).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(UnsafeArchiveError);
    expect((failure as Error).message).toContain(message);
    expect(await outsideTarget()).toEqual([]);
    await expect(stat('/tmp/firedrill-escape-absolute')).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('stops at the refused entry: what follows it is not unpacked', async () => {
    const path = await archive([
      { name: 'first', content: 'ok' },
      { name: '../escape', content: 'x' },
      { name: 'after', content: 'never' },
    ]);
    await expect(extract(path)).rejects.toBeInstanceOf(UnsafeArchiveError);
    expect((await readdir(target)).sort()).toEqual(['first']);
  });

  it('fails on a truncated archive', async () => {
    const path = await archive([{ name: 'big', content: Buffer.alloc(100_000, 7) }]);
    const whole = await readFile(path);
    await writeFile(path, whole.subarray(0, 50_000));
    await expect(extract(path)).rejects.toThrow();
  });
});
