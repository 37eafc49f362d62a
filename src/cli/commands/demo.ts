import { relative } from 'node:path';
import type { LevelWithSilent } from 'pino';
import type { Output } from '../output.ts';
import { selectValidDrills, type GlobalOptions } from '../session.ts';
import { createLogger } from '../../logger.ts';
import { Releasers } from '../../drill/releasers.ts';
import { loadDrills, loadRunnerConfig } from '../../config/load.ts';
import { startDemoSource } from '../../demo/demo-source.ts';
import { runDrill } from '../../drill/run-drill.ts';
import { JsonFileReporter } from '../../report/json-file-reporter.ts';
import { renderReport } from '../report-view.ts';
import { EXIT, exitCodeForReports } from '../exit-codes.ts';
import { repositoryFor } from '../../repository/registry.ts';

export const DEMO_DRILL = 'demo';

/**
 * `firedrill demo`: starts a throwaway source database seeded with a small
 * shop, runs the `demo` drill from the drills directory against it (backup,
 * restore into a local sandbox, checks), prints the report and removes the
 * source. The source's URL and password reach the drill file through
 * FIREDRILL_DEMO_URL and FIREDRILL_DEMO_PASSWORD, in an environment built
 * for the loader only.
 */
export async function demoCommand(global: GlobalOptions, output: Output, signal: AbortSignal): Promise<number> {
  const logger = createLogger({ level: (global.logLevel as LevelWithSilent | undefined) ?? 'warn' });
  const releasers = new Releasers(logger);
  try {
    output.out('firedrill demo: starting a throwaway source database and seeding a small shop (customers, products, orders)...');
    const source = await startDemoSource({ logger, releasers });
    output.out(`source ready: ${source.url} (PostgreSQL ${source.cluster.serverVersion}); running drill "${DEMO_DRILL}"...\n`);
    const env = { ...process.env, FIREDRILL_DEMO_URL: source.url, FIREDRILL_DEMO_PASSWORD: source.password.reveal() };
    const runner = await loadRunnerConfig(global.config, { env });
    const [drill] = selectValidDrills(await loadDrills(global.drills, runner, { env }), [DEMO_DRILL]);
    if (!drill) return EXIT.ERROR;
    const reporter = new JsonFileReporter(runner.reportsDirectory);
    const report = await runDrill(drill, { runner, logger, signal, reporters: [reporter] });
    output.out(renderReport(report, relative(runner.cwd, reporter.pathFor(report))));
    if (report.backup) {
      output.out(`\nThe backup stays in ${repositoryFor(runner, drill).describe()}; see it with: firedrill backups ${DEMO_DRILL}.`);
    }
    output.out('The demo source database is removed now.');
    return exitCodeForReports([report]);
  } finally {
    await releasers.releaseAll();
  }
}
