import type { LevelWithSilent } from 'pino';
import { createLogger, LOG_LEVELS, type Logger } from '../logger.ts';
import { loadDrills, loadRunnerConfig, type DrillConfig, type LoadedDrills, type RunnerConfig } from '../config/load.ts';
import { ConfigError, UsageError, type ConfigProblem } from '../errors.ts';

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
  const logger = createLogger({ level: (level as LevelWithSilent | undefined) ?? settings.defaultLogLevel ?? runner.logLevel });
  const loaded = await loadDrills(options.drills, runner, { resolveSecrets: settings.resolveSecrets });
  return { runner, logger, loaded };
}

/**
 * The drills a command asked for, by name or all. An unknown name is a usage
 * error that lists the drills there are; a selected drill with problems is a
 * config error listing every one of them.
 */
export function selectDrills(loaded: LoadedDrills, names: string[], all: boolean): DrillConfig[] {
  const known = [...loaded.drills.map((drill) => drill.name), ...loaded.problems.keys()].sort();
  const wanted = all ? known : names;
  const unknown = wanted.filter((name) => !known.includes(name));
  if (unknown.length > 0) {
    const available = known.length > 0 ? known.join(', ') : 'none';
    throw new UsageError(`unknown drill${unknown.length > 1 ? 's' : ''} ${unknown.map((name) => `"${name}"`).join(', ')} in ${loaded.directory} (drills: ${available})`);
  }
  const problems: ConfigProblem[] = wanted.flatMap((name) => loaded.problems.get(name) ?? []);
  if (problems.length > 0) throw new ConfigError(problems);
  return wanted.map((name) => loaded.drills.find((drill) => drill.name === name) as DrillConfig);
}
