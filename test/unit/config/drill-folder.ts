import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { loadDrills, loadRunnerConfig, type LoadedDrills } from '../../../src/config/load.ts';
import { formatConfigProblem } from '../../../src/errors.ts';

/**
 * A throwaway working directory with a drills/ folder, loaded exactly as the
 * CLI loads it: the same loader, a real directory, and an explicit
 * environment instead of the test process's own.
 */
export interface DrillFolder {
  readonly directory: string;
  /** Writes a file relative to the working directory, e.g. `drills/orders.yaml`. */
  write(relativePath: string, text: string): Promise<string>;
  load(env?: NodeJS.ProcessEnv, options?: { resolveSecrets?: boolean }): Promise<LoadedDrills>;
  /** The problems of one drill, formatted as `firedrill validate` prints them. */
  problemLines(name: string, env?: NodeJS.ProcessEnv): Promise<string[]>;
  remove(): Promise<void>;
}

export async function createDrillFolder(): Promise<DrillFolder> {
  const directory = await mkdtemp(join(tmpdir(), 'firedrill-unit-config-'));
  await mkdir(join(directory, 'drills'));
  const folder: DrillFolder = {
    directory,
    async write(relativePath, text) {
      const path = join(directory, relativePath);
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, text);
      return path;
    },
    async load(env = {}, options = {}) {
      const runner = await loadRunnerConfig(undefined, { cwd: directory, env });
      return loadDrills(undefined, runner, { cwd: directory, env, ...options });
    },
    async problemLines(name, env = {}) {
      const loaded = await folder.load(env);
      return (loaded.problems.get(name) ?? []).map(formatConfigProblem);
    },
    remove: () => rm(directory, { recursive: true, force: true }),
  };
  return folder;
}

/** A source block that is valid on its own, so a test's problems are only the ones it plants. */
export const VALID_SOURCE = 'source: { type: postgres, url: "postgres://backup@db.internal:5432/orders" }\n';
