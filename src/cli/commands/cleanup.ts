import type { Output } from '../output.ts';
import { openSession, type GlobalOptions } from '../session.ts';
import { UsageError } from '../../errors.ts';
import { parseDuration } from '../../config/duration.ts';
import { removeLeftovers } from '../../sandbox/leftovers.ts';
import { EXIT } from '../exit-codes.ts';

export interface CleanupFlags {
  olderThan?: string;
}

/**
 * `firedrill cleanup`: removes what crashed runs left behind: containers
 * whose firedrill process is gone (or, when their owner cannot be judged from
 * here, older than --older-than) and local clusters of dead processes. Kept
 * sandboxes and the resources of running drills are never touched.
 */
export async function cleanupCommand(flags: CleanupFlags, global: GlobalOptions, output: Output): Promise<number> {
  const olderThanMs = flags.olderThan?.trim() === '0' ? 0 : parseDuration(flags.olderThan ?? '6h');
  if (olderThanMs === undefined) throw new UsageError(`--older-than "${flags.olderThan}" is not a duration (e.g. 30m, 6h, 2d)`);
  // What is removed is printed below: the reaper's own warnings would say it twice.
  const { runner, logger } = await openSession(global, { resolveSecrets: false, defaultLogLevel: 'error' });
  const removed = await removeLeftovers(runner, logger, { olderThanMs });
  for (const directory of removed.clusters) output.out(`removed local cluster ${directory} (its server stopped)`);
  output.out(`local clusters: removed ${removed.clusters.length}`);
  for (const directory of removed.workFiles) output.out(`removed work files ${directory}`);
  output.out(`work files: removed ${removed.workFiles.length}`);
  if (removed.containers === undefined) {
    output.out(`containers: skipped (${removed.containerSkip})`);
    return EXIT.PASSED;
  }
  for (const container of removed.containers) {
    output.out(`removed container ${container.id} (${container.role} of drill ${container.drill}, run ${container.runId}, created ${container.createdAt.toISOString()})`);
  }
  for (const problem of removed.problems) output.err(`firedrill: ${problem}`);
  output.out(`containers: removed ${removed.containers.length}`);
  const failed = removed.problems.length > 0;
  return failed ? EXIT.ERROR : EXIT.PASSED;
}
