import type { Logger } from '../logger.ts';
import type { RunnerConfig } from '../config/load.ts';
import { dockerClient, reapLeftoverContainers, type FiredrillContainer } from '../docker/docker-client.ts';
import { reapOrphanedClusters } from './orphan-reaper.ts';
import { LocalSandbox } from './local-sandbox.ts';
import { reapWorkDirectories } from '../pipeline/work-directory.ts';
import { errorMessage } from '../errors.ts';

/**
 * What crashed runs left behind, removed: local clusters and work files of
 * dead firedrill processes, and their containers (those started from another
 * machine sharing the engine once older than `olderThanMs`). Kept sandboxes
 * and what running drills use are never touched. `firedrill cleanup` runs
 * this, and so does `firedrill serve` when it starts after a crash.
 */
export interface LeftoversRemoved {
  clusters: string[];
  workFiles: string[];
  /** Undefined when no Docker engine answered (`containerSkip` says why). */
  containers: FiredrillContainer[] | undefined;
  containerSkip?: string;
  problems: string[];
}

export async function removeLeftovers(runner: RunnerConfig, logger: Logger, options: { olderThanMs: number }): Promise<LeftoversRemoved> {
  // Every configured local sandbox's directory, and the OS temp dir of the built-in one.
  const directories = new Set<string | undefined>();
  for (const [name, config] of Object.entries(runner.sandboxes)) {
    if (config.type === 'local') directories.add(new LocalSandbox(name, config, runner).directory);
  }
  const clusters: string[] = [];
  for (const directory of directories) clusters.push(...(await reapOrphanedClusters(logger, directory)));
  const workFiles = await reapWorkDirectories(logger);
  try {
    const client = await dockerClient();
    const { removed, problems } = await reapLeftoverContainers(client, logger, options);
    return { clusters, workFiles, containers: removed, problems };
  } catch (error) {
    return { clusters, workFiles, containers: undefined, containerSkip: errorMessage(error), problems: [] };
  }
}
