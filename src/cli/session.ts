import type { LevelWithSilent } from 'pino';
import { basename, extname } from 'node:path';
import { createLogger, LOG_LEVELS, type Logger } from '../logger.ts';
import { loadDrills, loadRunnerConfig, type DrillConfig, type LoadedDrills, type RunnerConfig } from '../config/load.ts';
import { ConfigError, UsageError, type ConfigProblem } from '../errors.ts';
import { repositoryFor } from '../repository/registry.ts';
import { existingRepositoryFor, listExistingBackups } from '../drill/existing-backup.ts';

/** What every command needs: the runner config, the drills, a logger. */

export interface GlobalOptions {
  config?: string;
  drills?: string;
  logLevel?: string;
}

export interface Session {
  runner: RunnerConfig;
  logger: Logger;
  loaded: LoadedDrills;
}

export async function openSession(
  options: GlobalOptions,
  settings: { resolveSecrets: boolean; defaultLogLevel?: LevelWithSilent },
): Promise<Session> {
  const level = options.logLevel;
  if (level !== undefined && !(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new UsageError(`--log-level "${level}" is not a level (${LOG_LEVELS.join(', ')})`);
  }
  const runner = await loadRunnerConfig(options.config, { resolveSecrets: settings.resolveSecrets });
  // JSON logs are for machines: at a terminal only warnings and errors interleave with the report.
  const fallback = process.stderr.isTTY ? 'warn' : 'info';
  const logger = createLogger({ level: (level as LevelWithSilent | undefined) ?? settings.defaultLogLevel ?? runner.logLevel ?? fallback });
  const loaded = await loadDrills(options.drills, runner, { resolveSecrets: settings.resolveSecrets });
  return { runner, logger, loaded };
}

export interface Selection {
  /** The selected drills that are valid. */
  drills: DrillConfig[];
  /** The problems of the selected drills that are not. */
  problems: ConfigProblem[];
}

/**
 * The drills a command asked for, by name (or by file name, when a drill sets
 * `name:`) or all. An unknown name is a usage error that lists the drills
 * there are; problems of the selected drills are returned for the caller to
 * judge.
 */
export function selectDrills(loaded: LoadedDrills, names: string[], all: boolean): Selection {
  const aliases = new Map<string, string>();
  for (const drill of loaded.drills) aliases.set(basename(drill.file, extname(drill.file)), drill.name);
  for (const [name, problems] of loaded.problems) {
    for (const problem of problems) aliases.set(basename(problem.file, extname(problem.file)), name);
  }
  for (const name of [...loaded.drills.map((drill) => drill.name), ...loaded.problems.keys()]) aliases.set(name, name);
  const known = [...new Set(aliases.values())].sort();
  const wanted = all ? known : names.map((name) => aliases.get(name) ?? name);
  const unknown = wanted.filter((name) => !known.includes(name));
  if (unknown.length > 0) {
    const available = known.length > 0 ? known.join(', ') : 'none';
    throw new UsageError(`unknown drill${unknown.length > 1 ? 's' : ''} ${unknown.map((name) => `"${name}"`).join(', ')} in ${loaded.directory} (drills: ${available})`);
  }
  return {
    drills: wanted.flatMap((name) => loaded.drills.filter((drill) => drill.name === name)),
    problems: wanted.flatMap((name) => loaded.problems.get(name) ?? []),
  };
}

/**
 * For housekeeping commands (`repair`, `prune`): the named drills, or every
 * drill when none is named. Invalid ones are reported on stderr and skipped,
 * so one broken file does not stop the rest; `skipped` says whether any was.
 */
export function selectDrillsForHousekeeping(loaded: LoadedDrills, names: string[], err: (line: string) => void): { drills: DrillConfig[]; skipped: boolean } {
  const { drills, problems } = selectDrills(loaded, names, names.length === 0);
  for (const problem of problems) err(`firedrill: skipping a drill with problems: ${problem.file}: ${problem.message}`);
  return { drills, skipped: problems.length > 0 };
}

/** The selected drills, all of which must be valid. */
export function selectValidDrills(loaded: LoadedDrills, names: string[]): DrillConfig[] {
  const selection = selectDrills(loaded, names, false);
  if (selection.problems.length > 0) throw new ConfigError(selection.problems);
  return selection.drills;
}

/** A mistyped backup id is a usage error, told before anything runs and without a report that would look like a drill. */
export async function assertBackupExists(runner: RunnerConfig, drills: DrillConfig[], backupId: string): Promise<void> {
  for (const drill of drills) {
    if (drill.backup.existing) {
      const repository = existingRepositoryFor(runner, drill);
      if ((await listExistingBackups(drill, repository)).some((object) => object.key === backupId)) continue;
      throw new UsageError(`drill "${drill.name}" has no backup "${backupId}" among the matches of backup.existing in ${repository.describe()} (see firedrill backups ${drill.name})`);
    }
    const repository = repositoryFor(runner, drill);
    const backups = await repository.listBackups(drill.name);
    if (backups.some((entry) => entry.backupId === backupId)) continue;
    const newest = backups.find((entry) => entry.status === 'complete');
    const hint = newest ? `the latest complete one is ${newest.backupId}` : 'it has no complete backup';
    throw new UsageError(`drill "${drill.name}" has no backup ${backupId} in ${repository.describe()}; ${hint} (see firedrill backups ${drill.name})`);
  }
}
