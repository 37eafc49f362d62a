import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../logger.ts';
import { errorMessage } from '../errors.ts';
import { keepMarker, readMarker } from './owner-marker.ts';

/**
 * Private temp directories for a run's work files: fetched and decoded
 * backups, an age identity while it decrypts. Each carries an owner marker,
 * so that what a firedrill process killed outright (SIGKILL, power loss)
 * left in the temp dir, a decrypted database or a private key, is removed by
 * the next restore or `firedrill cleanup` instead of lying around.
 */

export const WORK_DIRECTORY_PREFIX = 'firedrill-work-';
const OWNER_FILE = '.owner';

export interface WorkDirectory {
  path: string;
  /** Removes the directory and everything in it. Idempotent. */
  release(): Promise<void>;
}

export async function createWorkDirectory(purpose: string, parent = tmpdir()): Promise<WorkDirectory> {
  const path = await mkdtemp(join(parent, `${WORK_DIRECTORY_PREFIX}${purpose}-`));
  let stopHeartbeat: () => void = () => undefined;
  try {
    stopHeartbeat = await keepMarker(join(path, OWNER_FILE), { purpose });
  } catch (error) {
    await rm(path, { recursive: true, force: true });
    throw error;
  }
  return {
    path,
    release: async () => {
      stopHeartbeat();
      await rm(path, { recursive: true, force: true });
    },
  };
}

/** Removes the work directories in `parent` whose firedrill process is gone; returns them. */
export async function reapWorkDirectories(logger: Logger, parent = tmpdir()): Promise<string[]> {
  const names = await readdir(parent).catch(() => [] as string[]);
  const reaped: string[] = [];
  for (const name of names.filter((entry) => entry.startsWith(WORK_DIRECTORY_PREFIX))) {
    const path = join(parent, name);
    try {
      // This machine's own temp dir: a dead owner here is known at once.
      const { abandoned } = await readMarker(join(path, OWNER_FILE), { graceMs: 0 });
      if (!abandoned) continue;
      await rm(path, { recursive: true, force: true });
      reaped.push(path);
      logger.warn({ directory: path }, 'removed work files left behind by a firedrill process that no longer runs');
    } catch (error) {
      logger.debug({ directory: path, err: errorMessage(error) }, 'left a work directory alone');
    }
  }
  return reaped;
}
