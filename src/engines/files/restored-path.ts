import type { Stats } from 'node:fs';
import { lstat, realpath, stat } from 'node:fs/promises';
import { basename, dirname, join, sep } from 'node:path';

/**
 * Looks up paths in a restored tree without ever leaving it. The paths come
 * from a backup's index or from a restored database, and a restored symbolic
 * link may point anywhere, into the live system included (`uploads ->
 * /srv/app/uploads`): a check that followed it would find the production
 * file and pass on a backup that lacks it. So a path is refused when it is
 * absolute or has `..`, and when it resolves, through any link, to a place
 * outside the restore directory.
 */

export type RestoredLookup = { status: 'present'; stats: Stats; path: string } | { status: 'missing' } | { status: 'outside' };

export class RestoredTree {
  readonly #directory: string;
  #realDirectory: Promise<string> | undefined;
  /** The last parent looked up: entries come in tree order, so siblings share it. */
  #lastParent: { relative: string; real: string | undefined } | undefined;

  constructor(directory: string) {
    this.#directory = directory;
  }

  /**
   * `follow`: the final component may be a link that resolves inside (a
   * reference to a file); without, the entry itself is looked at (an index
   * entry that is a link).
   */
  async lookUp(relative: string, options: { follow: boolean }): Promise<RestoredLookup> {
    const parts = relative.split('/');
    if (relative === '' || relative.startsWith('/') || relative.includes('\0') || parts.includes('..')) return { status: 'outside' };
    const root = await (this.#realDirectory ??= realpath(this.#directory));
    const parentRelative = dirname(relative);
    let parent = this.#lastParent?.relative === parentRelative ? this.#lastParent.real : undefined;
    if (this.#lastParent?.relative !== parentRelative) {
      parent = await realpath(join(root, parentRelative)).catch(() => undefined);
      this.#lastParent = { relative: parentRelative, real: parent };
    }
    if (parent === undefined) return { status: 'missing' };
    if (!inside(parent, root)) return { status: 'outside' };
    const path = join(parent, basename(relative));
    if (!options.follow) {
      const stats = await lstat(path).catch(() => undefined);
      return stats ? { status: 'present', stats, path } : { status: 'missing' };
    }
    const real = await realpath(path).catch(() => undefined);
    if (real === undefined) return { status: 'missing' };
    if (!inside(real, root)) return { status: 'outside' };
    return { status: 'present', stats: await stat(real), path: real };
  }
}

function inside(path: string, root: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : `${root}${sep}`);
}
