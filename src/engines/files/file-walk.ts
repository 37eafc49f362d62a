import type { Stats } from 'node:fs';
import { lstat, readdir, readlink, realpath, stat } from 'node:fs/promises';
import { basename, join, matchesGlob, sep } from 'node:path';
import { BackupError, errorMessage } from '../../errors.ts';

/**
 * The entries of a files target, depth first in name order (so two backups
 * of the same tree list it alike; a directory's entries follow it). What cannot be backed up is reported, not
 * thrown, unless the drill says unreadable files fail the backup:
 * - sockets, FIFOs and devices are skipped (their "content" is not data);
 * - what vanishes between listing and reading is skipped (a busy tree);
 * - symbolic links are entries of their own; with `follow`, a link that
 *   resolves inside the backed-up paths is walked as what it points to, and a
 *   link back to one of its own ancestors (a loop) is kept as a link.
 */

export type WalkEntry =
  | { type: 'directory'; archivePath: string; absolutePath: string; stats: Stats }
  /** `readPath` is where the content is read: the file itself, or what a followed link resolves to (never a link). */
  | { type: 'file'; archivePath: string; absolutePath: string; readPath: string; stats: Stats }
  | { type: 'symlink'; archivePath: string; absolutePath: string; stats: Stats; target: string };

export interface WalkWarning {
  [key: string]: unknown;
  path: string;
  problem: string;
}

export interface WalkOptions {
  /** Absolute paths, as configured. */
  paths: string[];
  exclude: string[];
  symlinks: 'keep' | 'follow';
  onUnreadable: 'fail' | 'warn';
  onWarning: (warning: WalkWarning) => void;
  signal: AbortSignal;
}

interface Pending {
  absolutePath: string;
  archivePath: string;
  /** Real paths of the directories above, to notice a followed link that leads back up. */
  ancestors: string[];
}

export async function* walkFiles(options: WalkOptions): AsyncGenerator<WalkEntry> {
  const roots = await Promise.all(options.paths.map((path) => realpath(path).catch(() => path)));
  const excluded = (archivePath: string) => archivePath !== '' && isExcluded(archivePath, options.exclude);

  for (const [index, path] of options.paths.entries()) {
    options.signal.throwIfAborted();
    // A configured path is followed even when it is a link (`current -> releases/42`): the drill named it.
    const stats = await stat(path).catch((error: unknown) => {
      throw new BackupError(`cannot read ${path} (files source paths[${index}]): ${errorMessage(error)}; fix the path or its permissions`, { cause: error });
    });
    const single = options.paths.length === 1;
    const archivePath = single && stats.isDirectory() ? '' : basename(path);
    if (excluded(archivePath)) continue;
    if (!stats.isDirectory()) {
      if (!stats.isFile()) throw new BackupError(`${path} (files source paths[${index}]) is ${kindOf(stats)}, not a file or directory; it cannot be backed up`);
      yield { type: 'file', archivePath, absolutePath: path, readPath: roots[index] as string, stats };
      continue;
    }
    if (archivePath !== '') yield { type: 'directory', archivePath, absolutePath: path, stats };
    yield* walkDirectory({ absolutePath: path, archivePath, ancestors: [roots[index] as string] }, roots, excluded, options);
  }
}

/** One directory's entries in name order, each subdirectory walked where it comes (depth first). */
async function* walkDirectory(directory: Pending, roots: string[], excluded: (archivePath: string) => boolean, options: WalkOptions): AsyncGenerator<WalkEntry> {
  options.signal.throwIfAborted();
  // As bytes: a name that is not valid UTF-8 would otherwise turn into another name (U+FFFD) that does not exist.
  const raw = await readOrSkip(readdir(directory.absolutePath, { encoding: 'buffer' }), directory.absolutePath, options);
  if (!raw) return;
  const names: string[] = [];
  for (const bytes of raw) {
    const name = bytes.toString('utf8');
    if (Buffer.from(name, 'utf8').equals(bytes)) names.push(name);
    else options.onWarning({ path: join(directory.absolutePath, name), problem: `skipped: its name is not valid UTF-8 (bytes ${bytes.toString('hex')}), which firedrill cannot archive` });
  }
  for (const name of names.sort()) {
    const absolutePath = join(directory.absolutePath, name);
    const entryPath = directory.archivePath === '' ? name : `${directory.archivePath}/${name}`;
    if (excluded(entryPath)) continue;
    let entryStats = await readOrSkip(lstat(absolutePath), absolutePath, options);
    if (!entryStats) continue;
    let real = absolutePath;
    if (entryStats.isSymbolicLink()) {
      const followed = options.symlinks === 'follow' ? await followInside(absolutePath, roots, directory.ancestors, options) : undefined;
      if (!followed) {
        const target = await readOrSkip(readlink(absolutePath), absolutePath, options);
        if (target === undefined) continue;
        yield { type: 'symlink', archivePath: entryPath, absolutePath, stats: entryStats, target };
        continue;
      }
      entryStats = followed.stats;
      real = followed.real;
    }
    if (entryStats.isDirectory()) {
      yield { type: 'directory', archivePath: entryPath, absolutePath, stats: entryStats };
      // Real paths of the directories above matter only when links are followed: they tell a loop.
      if (options.symlinks === 'follow' && real === absolutePath) real = await realpath(absolutePath).catch(() => absolutePath);
      const ancestors = options.symlinks === 'follow' ? [...directory.ancestors, real] : [];
      yield* walkDirectory({ absolutePath, archivePath: entryPath, ancestors }, roots, excluded, options);
    } else if (entryStats.isFile()) {
      yield { type: 'file', archivePath: entryPath, absolutePath, readPath: real, stats: entryStats };
    } else {
      options.onWarning({ path: absolutePath, problem: `skipped: ${kindOf(entryStats)} holds no data to back up` });
    }
  }
}

/** With `follow`: what a link points to, when that is inside the backed-up paths and not one of its own ancestors. */
async function followInside(
  link: string,
  roots: string[],
  ancestors: string[],
  options: WalkOptions,
): Promise<{ real: string; stats: Stats } | undefined> {
  let real: string;
  let stats: Stats;
  try {
    real = await realpath(link);
    stats = await stat(real);
  } catch {
    // Dangling, or a loop of links: kept as a link, which restores exactly what was there.
    return undefined;
  }
  const inside = roots.some((root) => real === root || real.startsWith(root.endsWith(sep) ? root : `${root}${sep}`));
  if (!inside) return undefined;
  if (stats.isDirectory() && ancestors.includes(real)) {
    options.onWarning({ path: link, problem: 'a symbolic link to one of its own parent directories (a loop): stored as a link, not followed' });
    return undefined;
  }
  return { real, stats };
}

/**
 * What reading `path` gave, or undefined when it is skipped with a warning:
 * something that vanished, or was replaced by a link (a file opened with
 * O_NOFOLLOW), always is (a live tree changes while it is read); anything
 * else only under `onUnreadable: warn`; otherwise the backup fails.
 */
export async function readOrSkip<T>(
  reading: Promise<T>,
  path: string,
  options: Pick<WalkOptions, 'onUnreadable' | 'onWarning'>,
): Promise<T | undefined> {
  try {
    return await reading;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ELOOP') {
      const problem = code === 'ENOENT' ? 'vanished while the backup ran: not backed up' : 'replaced by a symbolic link while the backup ran: not backed up';
      options.onWarning({ path, problem });
      return undefined;
    }
    if (options.onUnreadable === 'warn') {
      options.onWarning({ path, problem: `unreadable (${errorMessage(error)}): not backed up` });
      return undefined;
    }
    throw new BackupError(
      `cannot read ${path}: ${errorMessage(error)}. Grant the backup's user read access, exclude it, or set onUnreadable: warn to back up the rest without it`,
      { cause: error },
    );
  }
}

export function isExcluded(archivePath: string, globs: string[]): boolean {
  const name = archivePath.slice(archivePath.lastIndexOf('/') + 1);
  return globs.some((glob) => (glob.includes('/') ? matchesGlob(archivePath, glob) : matchesGlob(name, glob)));
}

function kindOf(stats: Stats): string {
  if (stats.isFIFO()) return 'a FIFO (named pipe)';
  if (stats.isSocket()) return 'a socket';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  if (stats.isDirectory()) return 'a directory';
  return 'an unknown kind of file';
}
