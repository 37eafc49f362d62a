import { relative } from 'node:path';
import type { Output } from '../output.ts';
import { openSession, selectDrills, type GlobalOptions } from '../session.ts';
import { runDrill } from '../../drill/run-drill.ts';
import { JsonFileReporter, renderReportJson } from '../../report/json-file-reporter.ts';
import { renderReport } from '../report-view.ts';
import type { Report } from '../../report/report.ts';
import { UsageError } from '../../errors.ts';
import { EXIT, exitCodeForReports } from '../exit-codes.ts';

export interface RunFlags {
  all?: boolean;
  json?: boolean;
  fromBackup?: string;
}

/** `firedrill run <drill...> | --all`: drills run one after another; Ctrl-C stops the current one cleanly. */
export async function runCommand(names: string[], flags: RunFlags, global: GlobalOptions, output: Output, signal: AbortSignal): Promise<number> {
  if (flags.all && names.length > 0) throw new UsageError('give drill names or --all, not both');
  if (!flags.all && names.length === 0) throw new UsageError('name the drill(s) to run, or use --all');
  const session = await openSession(global, { resolveSecrets: true });
  const drills = selectDrills(session.loaded, names, Boolean(flags.all));
  if (drills.length === 0) throw new UsageError(`there are no drills in ${session.loaded.directory}`);

  const reporter = new JsonFileReporter(session.runner.reportsDirectory);
  const reports: Report[] = [];
  for (const drill of drills) {
    if (signal.aborted) break;
    const report = await runDrill(drill, { runner: session.runner, logger: session.logger, fromBackup: flags.fromBackup, signal, reporters: [reporter] });
    reports.push(report);
    if (!flags.json) {
      output.out(`${renderReport(report, relative(session.runner.cwd, reporter.pathFor(report)))}\n`);
    }
  }
  if (flags.json) output.out(renderReportJson(reports.length === 1 ? (reports[0] as Report) : reports));
  return signal.aborted && reports.length < drills.length ? EXIT.ERROR : exitCodeForReports(reports);
}
