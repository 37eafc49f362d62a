import { readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../logger.ts';
import { errorMessage } from '../errors.ts';
import { processExists, readMarker } from '../pipeline/owner-marker.ts';
import { MARKER_FILE, SANDBOX_DIRECTORY_PREFIX } from './local-cluster.ts';

/**
 * Removes clusters whose firedrill process is gone (killed with SIGKILL, or
 * the machine lost power mid-run): stops their server and deletes their
 * directory. Clusters of live firedrill processes are left alone, and a
 * process is only signalled when it is provably that cluster's postmaster.
 */
export async function reapOrphanedClusters(logger: Logger, parentDirectory = tmpdir()): Promise<string[]> {
  const reaped: string[] = [];
  let names: string[];
  try {
    names = (await readdir(parentDirectory)).filter((name) => name.startsWith(SANDBOX_DIRECTORY_PREFIX));
  } catch {
    return reaped;
  }
  for (const name of names) {
    const directory = join(parentDirectory, name);
    try {
      // This machine's own temp dir: a dead owner here is known at once.
      const { owner, abandoned } = await readMarker(join(directory, MARKER_FILE), { graceMs: 0 });
      if (!abandoned) continue;
      const postmaster = await postmasterOf(join(directory, 'data'));
      if (postmaster !== undefined) {
        process.kill(postmaster, 'SIGQUIT');
        for (let waited = 0; waited < 5_000 && processExists(postmaster); waited += 100) await sleep(100);
        if (processExists(postmaster)) process.kill(postmaster, 'SIGKILL');
      }
      await rm(directory, { recursive: true, force: true });
      logger.warn({ directory, leftByRunId: owner?.runId }, 'removed a sandbox left behind by a firedrill process that no longer runs');
      reaped.push(directory);
    } catch (error) {
      // No marker yet (a sandbox being created right now) or unreadable: not ours to judge.
      logger.debug({ directory, err: errorMessage(error) }, 'left a sandbox directory alone');
    }
  }
  return reaped;
}

/**
 * The running postmaster of a data directory, if any. postmaster.pid names a
 * pid, which after a crash or reboot may belong to anything: it counts only
 * if that process is a postgres whose command line names this data directory.
 */
async function postmasterOf(dataDirectory: string): Promise<number | undefined> {
  const lines = (await readFile(join(dataDirectory, 'postmaster.pid'), 'utf8').catch(() => '')).split('\n');
  const pid = Number(lines[0]);
  if (!(pid > 0) || lines[1] !== dataDirectory || !processExists(pid)) return undefined;
  const commandLine = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
  const isPostgres = (commandLine[0] ?? '').endsWith('postgres') && commandLine.includes(dataDirectory);
  return isPostgres ? pid : undefined;
}
