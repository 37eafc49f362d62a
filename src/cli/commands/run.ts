import { relative, resolve } from 'node:path';
import type { Output } from '../output.ts';
import { assertBackupExists, openSession, selectDrills, type GlobalOptions } from '../session.ts';
import { runDrill } from '../../drill/run-drill.ts';
import { JsonFileReporter, readDrillStates, renderReportJson } from '../../report/json-file-reporter.ts';
import { writeFileAtomically } from '../../atomic-file.ts';
import { renderJunit } from '../../report/junit-report.ts';
import { drillMetricsRegistry } from '../../report/drill-metrics.ts';
import { checkPushgatewayUrl, pushMetrics, writeMetricsFile } from '../../report/metrics-output.ts';
import { renderReport } from '../report-view.ts';
import type { Report } from '../../report/report.ts';
import { ConfigError, UsageError, errorMessage, formatConfigProblem } from '../../errors.ts';
import { EXIT, exitCodeForReports } from '../exit-codes.ts';

export interface RunFlags {
  all?: boolean;
  json?: boolean;
  fromBackup?: string;
  junit?: string;
  metricsFile?: string;
  pushgateway?: string;
}

/**
 * `firedrill run <drill...> | --all`: drills run one after another; Ctrl-C
 * stops the current one cleanly. With --all, an invalid drill file does not
 * stop the others: it is reported, and the exit code says so.
 */
export async function runCommand(names: string[], flags: RunFlags, global: GlobalOptions, output: Output, signal: AbortSignal): Promise<number> {
  if (flags.all && names.length > 0) throw new UsageError('give drill names or --all, not both');
  if (!flags.all && names.length === 0) throw new UsageError('name the drill(s) to run, or use --all');
  // Drilling an existing backup never touches the source: its secrets are not needed.
  const session = await openSession(global, { resolveSecrets: flags.fromBackup === undefined });
  const { drills, problems } = selectDrills(session.loaded, names, Boolean(flags.all));
  if (problems.length > 0 && !flags.all) throw new ConfigError(problems);
  for (const problem of problems) output.err(`firedrill: not run: ${formatConfigProblem(problem)}`);
  if (drills.length === 0 && problems.length === 0) throw new UsageError(`there are no drills in ${session.loaded.directory}`);
  if (flags.fromBackup !== undefined && flags.fromBackup !== 'latest') await assertBackupExists(session.runner, drills, flags.fromBackup);
  // Said before anything runs: a drill of an hour should not end in a usage error.
  const pushgateway = flags.pushgateway === undefined ? undefined : checkPushgatewayUrl(flags.pushgateway);

  const reporter = new JsonFileReporter(session.runner.reportsDirectory);
  const reports: Report[] = [];
  for (const drill of drills) {
    if (signal.aborted) break;
    const report = await runDrill(drill, { runner: session.runner, logger: session.logger, fromBackup: flags.fromBackup, signal, reporters: [reporter] });
    reports.push(report);
    if (!flags.json) output.out(`${renderReport(report, relative(session.runner.cwd, reporter.pathFor(report)))}\n`);
  }
  // The shape follows what was asked for (one drill: an object), not how many ran before a Ctrl-C.
  if (flags.json) output.out(renderReportJson(!flags.all && names.length === 1 && reports[0] ? reports[0] : reports));
  else {
    const invalidDrills = new Set(problems.map((problem) => problem.file)).size;
    if (drills.length + invalidDrills > 1) output.out(tally(reports, invalidDrills, drills.length - reports.length));
  }

  await publishForMachines(reports, { ...flags, pushgateway }, session.runner.reportsDirectory, session.runner.cwd, output);

  if (problems.length > 0 || (signal.aborted && reports.length < drills.length)) return EXIT.ERROR;
  return exitCodeForReports(reports);
}

/**
 * JUnit XML for CI, and Prometheus metrics for monitoring. Like any
 * reporter, one that fails is said loudly on stderr and never changes the
 * drills' outcome or exit code.
 */
async function publishForMachines(
  reports: Report[],
  flags: { junit?: string | undefined; metricsFile?: string | undefined; pushgateway?: URL | undefined },
  reportsDirectory: string,
  cwd: string,
  output: Output,
): Promise<void> {
  const attempt = async (what: string, work: () => Promise<void>) => {
    try {
      await work();
    } catch (error) {
      output.err(`firedrill: could not write ${what}: ${errorMessage(error)}`);
    }
  };
  if (flags.junit) {
    const path = resolve(cwd, flags.junit);
    await attempt(`the JUnit report ${path}`, () => writeFileAtomically(path, renderJunit(reports), { mode: 0o644 }));
  }
  if (flags.metricsFile || flags.pushgateway) {
    // Every drill with reports, not only those run now: the textfile is the whole picture, whichever drill ran last.
    const states = await readDrillStates(reportsDirectory);
    if (flags.metricsFile) {
      const path = resolve(cwd, flags.metricsFile);
      await attempt(`the metrics file ${path}`, () => writeMetricsFile(path, drillMetricsRegistry(states)));
    }
    const gateway = flags.pushgateway;
    if (gateway) {
      const ran = new Set(reports.map((report) => report.drill));
      await attempt(`metrics to the Pushgateway ${gateway.origin}`, () => pushMetrics(gateway, states.filter((state) => ran.has(state.latest.drill))));
    }
  }
}

/** `3 drills: 2 passed, 1 failed`. */
function tally(reports: Report[], invalid: number, notRun: number): string {
  const counts = new Map<string, number>();
  for (const report of reports) counts.set(report.status, (counts.get(report.status) ?? 0) + 1);
  const parts = [...counts].map(([status, count]) => `${count} ${status}`);
  if (invalid > 0) parts.push(`${invalid} invalid (not run)`);
  if (notRun > 0) parts.push(`${notRun} not run (interrupted)`);
  return `${reports.length + invalid + notRun} drills: ${parts.join(', ')}`;
}
