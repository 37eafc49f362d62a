import type { Output } from '../output.ts';
import { openSession, type GlobalOptions } from '../session.ts';
import { UsageError, errorMessage } from '../../errors.ts';
import { parseDuration } from '../../config/duration.ts';
import { dockerClient, reapLeftoverContainers } from '../../docker/docker-client.ts';
import { reapOrphanedClusters } from '../../sandbox/orphan-reaper.ts';
import { LocalSandbox } from '../../sandbox/local-sandbox.ts';
import { EXIT } from '../exit-codes.ts';
import { reapWorkDirectories } from '../../pipeline/work-directory.ts';

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
  let failed = false;

  // Every configured local sandbox's directory, and the OS temp dir of the built-in one.
  const directories = new Set<string | undefined>();
  for (const [name, config] of Object.entries(runner.sandboxes)) {
    if (config.type === 'local') directories.add(new LocalSandbox(name, config, runner).directory);
  }
  let clusters = 0;
  for (const directory of directories) clusters += (await reapOrphanedClusters(logger, directory)).length;
  output.out(`local clusters: removed ${clusters}`);
  output.out(`work files: removed ${(await reapWorkDirectories(logger)).length}`);

  try {
    const client = await dockerClient();
    const { removed, problems } = await reapLeftoverContainers(client, logger, { olderThanMs });
    for (const container of removed) output.out(`removed container ${container.id} (${container.role} of drill ${container.drill}, run ${container.runId}, created ${container.createdAt.toISOString()})`);
    for (const problem of problems) output.err(`firedrill: ${problem}`);
    failed = problems.length > 0;
    output.out(`containers: removed ${removed.length}`);
  } catch (error) {
    output.out(`containers: skipped (${errorMessage(error)})`);
  }
  return failed ? EXIT.ERROR : EXIT.PASSED;
}
