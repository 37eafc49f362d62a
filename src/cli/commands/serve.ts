import type { Output } from '../output.ts';
import { openSession, type GlobalOptions } from '../session.ts';
import { loadDrills, loadRunnerConfig, type DrillConfig, type RunnerConfig } from '../../config/load.ts';
import { ConfigError, errorMessage, formatConfigProblem } from '../../errors.ts';
import { DrillScheduler } from '../../scheduler/drill-scheduler.ts';
import { PostgresRunCoordinator } from '../../scheduler/postgres-coordinator.ts';
import { removeLeftovers } from '../../sandbox/leftovers.ts';
import { startHttpServer } from '../../server/http-server.ts';
import { formatDuration } from '../../config/duration.ts';
import { EXIT } from '../exit-codes.ts';
import type { Logger } from '../../logger.ts';

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
  // A service that quietly left out a broken drill would look healthy while that drill never runs.
  const problems = [...loaded.problems.values()].flat();
  if (problems.length > 0) throw new ConfigError(problems);

  const leftovers = await removeLeftovers(runner, logger, { olderThanMs: FOREIGN_LEFTOVERS_AFTER_MS });
  const removedCount = leftovers.clusters.length + leftovers.workFiles.length + (leftovers.containers?.length ?? 0);
  if (removedCount > 0) logger.warn({ clusters: leftovers.clusters.length, workFiles: leftovers.workFiles.length, containers: leftovers.containers?.length ?? 0 }, 'removed what an earlier firedrill left behind');
  for (const problem of leftovers.problems) logger.warn(problem);

  const coordinator = runner.coordination
    ? new PostgresRunCoordinator(runner.coordination.postgres, logger, { maxConnections: runner.scheduler.concurrency + 4 })
    : undefined;
  await coordinator?.start();
  const scheduler = new DrillScheduler({ runner, drills: loaded.drills, logger, coordinator });
  let server: Awaited<ReturnType<typeof startHttpServer>> | undefined;
  const reload = () => void reloadConfig(global, scheduler, logger);
  try {
    scheduler.start();
    server = await startHttpServer({
      host: runner.server.host,
      port: runner.server.port,
      token: runner.server.token,
      scheduler,
      runner,
      drills: () => scheduler.drillConfigs,
      logger,
    });
    const scheduled = loaded.drills.filter((drill) => drill.schedule).length;
    output.out(
      `firedrill serve: ${server.url} (${scheduled} of ${loaded.drills.length} drills scheduled${coordinator ? ', coordinated through PostgreSQL' : ''}); ` +
        'SIGHUP reloads the config, SIGTERM stops',
    );
    process.on('SIGHUP', reload);
    await new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
    output.out(`firedrill serve: stopping (running drills get ${formatDuration(runner.scheduler.shutdownGrace)} to finish)`);
  } finally {
    process.off('SIGHUP', reload);
    await scheduler.shutdown(runner.scheduler.shutdownGrace);
    await server?.close();
    await coordinator?.close();
  }
  output.out('firedrill serve: stopped');
  return EXIT.PASSED;
}

/** SIGHUP: the config and drills read again; kept only when all of it is valid. */
async function reloadConfig(global: GlobalOptions, scheduler: DrillScheduler, logger: Logger): Promise<void> {
  let runner: RunnerConfig;
  let drills: DrillConfig[];
  try {
    runner = await loadRunnerConfig(global.config, { resolveSecrets: true });
    const loaded = await loadDrills(global.drills, runner, { resolveSecrets: true });
    const problems = [...loaded.problems.values()].flat();
    if (problems.length > 0) throw new ConfigError(problems);
    drills = loaded.drills;
  } catch (error) {
    const reasons = error instanceof ConfigError ? error.problems.map(formatConfigProblem) : [errorMessage(error)];
    logger.error({ problems: reasons }, 'SIGHUP: the new config is invalid; keeping the one in use');
    return;
  }
  // What the process was started with stays: a new address, port or coordination database needs a restart.
  const kept = scheduler.runner;
  await scheduler.reload({ ...runner, server: kept.server, coordination: kept.coordination }, drills);
  logger.info({ drills: drills.length }, 'SIGHUP: config reloaded');
}
