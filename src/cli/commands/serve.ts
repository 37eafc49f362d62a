import type { Output } from '../output.ts';
import { openSession, type GlobalOptions } from '../session.ts';
import { loadDrills, loadRunnerConfig, type DrillConfig, type RunnerConfig } from '../../config/load.ts';
import { ConfigError, errorMessage, formatConfigProblem, type ConfigProblem } from '../../errors.ts';
import { DrillScheduler } from '../../scheduler/drill-scheduler.ts';
import { PostgresRunCoordinator } from '../../scheduler/postgres-coordinator.ts';
import { removeLeftovers } from '../../sandbox/leftovers.ts';
import { startHttpServer } from '../../server/http-server.ts';
import { formatDuration } from '../../config/duration.ts';
import { EXIT } from '../exit-codes.ts';
import type { Logger } from '../../logger.ts';
import { Secret } from '../../secret.ts';

/** Containers of another machine sharing the engine: removed at start-up once this old (the runs that started them are long over). */
const FOREIGN_LEFTOVERS_AFTER_MS = 7 * 24 * 3600_000;

/**
 * `firedrill serve`: runs every drill with a `schedule` on it, serves the
 * dashboard, the API, /metrics and the health checks, and runs until
 * SIGTERM or SIGINT, which stop it gracefully (see DrillScheduler.shutdown).
 * SIGHUP reloads the config and the drills; an invalid new config is
 * refused, said, and the old one kept.
 */
export async function serveCommand(global: GlobalOptions, output: Output, signal: AbortSignal): Promise<number> {
  const { runner, logger, loaded } = await openSession(global, { resolveSecrets: true });
  // Node's default for SIGHUP is to exit: a stray one while starting or stopping must not cut a cleanup short.
  let reloading: Promise<void> = Promise.resolve();
  let scheduler: DrillScheduler | undefined;
  const onHangup = () => {
    const current = scheduler;
    if (!current?.ready) {
      logger.warn('SIGHUP ignored: the service is starting or stopping');
      return;
    }
    // One reload at a time, in order: an older, slower one never wins over a newer one.
    reloading = reloading.then(() => reloadConfig(global, current, logger)).catch((error: unknown) => logger.error({ err: errorMessage(error) }, 'SIGHUP: reload failed'));
  };
  process.on('SIGHUP', onHangup);
  let coordinator: PostgresRunCoordinator | undefined;
  let server: Awaited<ReturnType<typeof startHttpServer>> | undefined;
  try {
    // A service that quietly left out a broken drill would look healthy while that drill never runs.
    const problems = loadProblems(loaded);
    if (problems.length > 0) throw new ConfigError(problems);
    const leftovers = await removeLeftovers(runner, logger, { olderThanMs: FOREIGN_LEFTOVERS_AFTER_MS });
    if (leftovers.clusters.length + leftovers.workFiles.length + (leftovers.containers?.length ?? 0) > 0) {
      logger.warn({ clusters: leftovers.clusters.length, workFiles: leftovers.workFiles.length, containers: leftovers.containers?.length ?? 0 }, 'removed what an earlier firedrill left behind');
    }
    for (const problem of leftovers.problems) logger.warn(problem);

    coordinator = runner.coordination ? new PostgresRunCoordinator(runner.coordination.postgres, logger) : undefined;
    await coordinator?.start();
    scheduler = new DrillScheduler({ runner, drills: loaded.drills, logger, coordinator });
    const running = scheduler;
    running.start();
    server = await startHttpServer({
      host: runner.server.host,
      port: runner.server.port,
      token: runner.server.token,
      scheduler: running,
      runner,
      drills: () => running.drillConfigs,
      logger,
    });
    const scheduled = loaded.drills.filter((drill) => drill.schedule).length;
    output.out(
      `firedrill serve: ${server.url} (${scheduled} of ${loaded.drills.length} drills scheduled${coordinator ? ', coordinated through PostgreSQL' : ''}); ` +
        'SIGHUP reloads the config, SIGTERM stops',
    );
    await new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
    output.out(`firedrill serve: stopping (running drills get ${formatDuration(runner.scheduler.shutdownGrace)} to finish)`);
  } finally {
    await scheduler?.shutdown(runner.scheduler.shutdownGrace);
    await reloading;
    await server?.close();
    await coordinator?.close();
    process.off('SIGHUP', onHangup);
  }
  output.out('firedrill serve: stopped');
  return EXIT.PASSED;
}

function loadProblems(loaded: { problems: Map<string, ConfigProblem[]> }): ConfigProblem[] {
  return [...loaded.problems.values()].flat();
}

/** SIGHUP: the config and drills read again; used only when all of it is valid. */
async function reloadConfig(global: GlobalOptions, scheduler: DrillScheduler, logger: Logger): Promise<void> {
  let runner: RunnerConfig;
  let drills: DrillConfig[];
  try {
    runner = await loadRunnerConfig(global.config, { resolveSecrets: true });
    const loaded = await loadDrills(global.drills, runner, { resolveSecrets: true });
    const problems = loadProblems(loaded);
    if (problems.length > 0) throw new ConfigError(problems);
    drills = loaded.drills;
  } catch (error) {
    const reasons = error instanceof ConfigError ? error.problems.map(formatConfigProblem) : [errorMessage(error)];
    logger.error({ problems: reasons }, 'SIGHUP: the new config is invalid; keeping the one in use');
    return;
  }
  // What the process was started with stays: the HTTP server and the coordination database are set up once.
  const kept = scheduler.runner;
  const ignored = (['server', 'coordination'] as const).filter((key) => !sameSettings(runner[key], kept[key]));
  if (ignored.length > 0) logger.warn({ ignored }, `SIGHUP: changes to ${ignored.join(' and ')} take effect after a restart`);
  scheduler.reload({ ...runner, server: kept.server, coordination: kept.coordination }, drills);
  logger.info({ drills: drills.length }, 'SIGHUP: config reloaded');
}

/** Settings compared as written; secrets by where they come from, never by value. */
function sameSettings(a: unknown, b: unknown): boolean {
  const comparable = (value: unknown) => JSON.stringify(value, (_key, item: unknown) => (item instanceof Secret ? `secret from ${item.origin}` : item));
  return comparable(a) === comparable(b);
}
