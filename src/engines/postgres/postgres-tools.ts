import { access, constants, readdir, readlink, realpath } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { runToCompletion } from '../../pipeline/child-process.ts';

/**
 * Finding PostgreSQL programs without hard-coding a version: Debian keeps
 * each major in /usr/lib/postgresql/<major>/bin, Red Hat in
 * /usr/pgsql-<major>/bin, Homebrew in opt/postgresql@<major>/bin, and any
 * of them may be on PATH or behind `pg_config --bindir`.
 */

export type PostgresTool = 'pg_dump' | 'pg_restore' | 'psql' | 'initdb' | 'postgres' | 'pg_ctl';

export interface InstalledTool {
  tool: PostgresTool;
  path: string;
  binDir: string;
  /** As the program reports it: `15.18`. */
  version: string;
  major: number;
}

const GLOB_ROOTS: { parent: string; pattern: RegExp; suffix: string }[] = [
  { parent: '/usr/lib/postgresql', pattern: /^\d+(\.\d+)?$/, suffix: 'bin' },
  { parent: '/usr', pattern: /^pgsql-\d+(\.\d+)?$/, suffix: 'bin' },
  { parent: '/opt/homebrew/opt', pattern: /^postgresql@\d+$/, suffix: 'bin' },
  { parent: '/usr/local/opt', pattern: /^postgresql@\d+$/, suffix: 'bin' },
  { parent: '/Applications/Postgres.app/Contents/Versions', pattern: /^\d+(\.\d+)?$/, suffix: 'bin' },
];

/** Parses `pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)` and `postgres (PostgreSQL) 9.6.24`. */
export function parseToolVersion(output: string): { version: string; major: number } | undefined {
  const match = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(output);
  if (!match) return undefined;
  const first = Number(match[1]);
  const version = [match[1], match[2], match[3]].filter((part) => part !== undefined).join('.');
  // Before 10, the major version had two parts (9.6); firedrill treats it as 9.
  return { version, major: first };
}

/** Server major from `server_version_num` (150018 → 15, 90624 → 9). */
export function majorFromVersionNumber(versionNumber: number): number {
  return Math.floor(versionNumber / 10000);
}

export async function candidateBinDirs(configured: string[] = []): Promise<string[]> {
  if (configured.length > 0) return configured;
  const found: string[] = [];
  try {
    found.push((await runToCompletion('pg_config', ['--bindir'])).trim());
  } catch {
    // no pg_config on PATH: the other places still count
  }
  for (const root of GLOB_ROOTS) {
    try {
      const names = (await readdir(root.parent)).filter((name) => root.pattern.test(name));
      found.push(...names.map((name) => join(root.parent, name, root.suffix)));
    } catch {
      // that layout is not on this machine
    }
  }
  found.push(...(process.env.PATH ?? '').split(delimiter).filter(Boolean));
  const unique = new Map<string, string>();
  for (const directory of found) {
    try {
      const real = await realpath(directory);
      if (!unique.has(real)) unique.set(real, directory);
    } catch {
      // listed but missing
    }
  }
  return [...unique.values()];
}

const versionCache = new Map<string, Promise<InstalledTool | undefined>>();

/** The tool in one directory, with its version; undefined when absent or not a real PostgreSQL program. */
export function inspectTool(binDir: string, tool: PostgresTool): Promise<InstalledTool | undefined> {
  const path = join(binDir, tool);
  let cached = versionCache.get(path);
  if (!cached) {
    cached = (async () => {
      try {
        await access(path, constants.X_OK);
        // Debian's /usr/bin/pg_dump is pg_wrapper, which picks a version by itself: use the real directories instead.
        if ((await readlink(path).catch(() => '')).includes('pg_wrapper')) return undefined;
        const parsed = parseToolVersion(await runToCompletion(path, ['--version']));
        return parsed ? { tool, path, binDir, ...parsed } : undefined;
      } catch {
        return undefined;
      }
    })();
    versionCache.set(path, cached);
  }
  return cached;
}

/** Every installed copy of `tool`, lowest major first. */
export async function findTools(tool: PostgresTool, configuredBinDirs: string[] = []): Promise<InstalledTool[]> {
  const directories = await candidateBinDirs(configuredBinDirs);
  const tools = (await Promise.all(directories.map((directory) => inspectTool(directory, tool)))).filter(
    (found): found is InstalledTool => found !== undefined,
  );
  return tools.sort((a, b) => a.major - b.major);
}

/**
 * The copy of `tool` whose major is the lowest one at or above `minimumMajor`:
 * as close to the source server as possible, and never older than it.
 */
export function pickTool(installed: InstalledTool[], minimumMajor: number): InstalledTool | undefined {
  return [...installed].sort((a, b) => a.major - b.major).find((candidate) => candidate.major >= minimumMajor);
}

export function describeInstalled(installed: InstalledTool[]): string {
  if (installed.length === 0) return 'none found';
  return installed.map((found) => `${found.version} at ${found.path}`).join(', ');
}
