import { spawn } from 'node:child_process';
import { mkdir, readdir } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import type { Output } from '../output.ts';
import { openSession, selectValidDrills, type GlobalOptions } from '../session.ts';
import type { DrillConfig, RunnerConfig } from '../../config/load.ts';
import { repositoryFor } from '../../repository/registry.ts';
import { findRunInDrills, readRecentReports, readRunsUpTo, type HistoryCandidate, type HistorySources } from '../../report/history.ts';
import { HISTORY_STRIP_RUNS, renderHtmlReport } from '../../report/html-report.ts';
import { writeFileAtomically } from '../../atomic-file.ts';
import { UsageError, errorMessage } from '../../errors.ts';
import { EXIT } from '../exit-codes.ts';
import { isId } from '../../drill/ids.ts';
import type { Report } from '../../report/report.ts';

export interface ReportFlags {
  drill?: string;
  open?: boolean;
  out?: string;
}

/**
 * `firedrill report <runId|latest>`: renders a run's self-contained HTML
 * report (with the drill's history up to that run) from its JSON report, read
 * from this machine's reports or the drill's repository. Written next to the
 * JSON report unless --out says otherwise (`--out -`: stdout).
 */
export async function reportCommand(which: string, flags: ReportFlags, global: GlobalOptions, output: Output): Promise<number> {
  if (flags.open && flags.out === '-') throw new UsageError('--open needs a file to open; drop --out - or give --out FILE');
  const { runner, loaded } = await openSession(global, { resolveSecrets: false, defaultLogLevel: 'warn' });
  const drills = flags.drill === undefined ? loaded.drills : selectValidDrills(loaded, [flags.drill]);
  const found = which === 'latest' ? await latestReport(runner, drills) : await reportById(runner, drills, which, flags.drill);
  const { report, sources } = found;

  // The history as it was at that run: later runs are not part of its story.
  const { reports: history, problems } = await readRunsUpTo(sources, report.drill, report.runId, HISTORY_STRIP_RUNS);
  for (const problem of problems) output.err(`firedrill: ${problem}`);
  const html = renderHtmlReport(report, history);

  if (flags.out === '-') {
    output.out(html);
    return EXIT.PASSED;
  }
  const path = flags.out ? resolve(runner.cwd, flags.out) : join(runner.reportsDirectory, report.drill, `${report.runId}.html`);
  try {
    await mkdir(dirname(path), { recursive: true });
    // Like the JSON report it renders: readable by the group that runs firedrill, not by everyone.
    await writeFileAtomically(path, html, { mode: 0o640 });
  } catch (error) {
    throw new UsageError(`cannot write the HTML report to ${path}: ${errorMessage(error)}`);
  }
  output.out(`${report.drill} ${report.runId} (${report.status}): ${relative(runner.cwd, path) || path}`);
  if (flags.open) await openInBrowser(path, output);
  return EXIT.PASSED;
}

interface FoundReport {
  report: Report;
  sources: HistorySources;
}

function sourcesFor(runner: RunnerConfig, drill: DrillConfig): HistorySources {
  return { reportsDirectory: runner.reportsDirectory, repository: repositoryFor(runner, drill) };
}

/** The newest run of the drill, or of every drill when none is named (run ids sort by time). */
async function latestReport(runner: RunnerConfig, drills: DrillConfig[]): Promise<FoundReport> {
  let newest: FoundReport | undefined;
  const problems: string[] = [];
  for (const drill of drills) {
    const sources = sourcesFor(runner, drill);
    const recent = await readRecentReports(sources, drill.name, 1);
    problems.push(...recent.problems);
    const report = recent.reports[0];
    if (report && (!newest || report.runId > newest.report.runId)) newest = { report, sources };
  }
  if (newest) return newest;
  const why = problems.length > 0 ? ` (${problems.join('; ')})` : '';
  const only = drills.length === 1 ? drills[0]?.name : undefined;
  throw new UsageError(`${only ? `drill "${only}" has` : 'no drill has'} no reports yet${why}; run it first: firedrill run ${only ?? '<drill>'}`);
}

/**
 * A run id, looked up in every drill's history (a run id is unique across
 * drills), this machine's reports first. Drills no longer configured still
 * have their local reports: those are searched too.
 */
async function reportById(runner: RunnerConfig, drills: DrillConfig[], runId: string, named: string | undefined): Promise<FoundReport> {
  if (!isId(runId)) {
    throw new UsageError(`"${runId}" is not a run id (like 20261126T031500Z-3f9a1c) or "latest"; see firedrill history <drill>`);
  }
  const candidates: HistoryCandidate[] = drills.map((drill) => ({ drill: drill.name, sources: sourcesFor(runner, drill) }));
  if (named === undefined) {
    const configured = new Set(drills.map((drill) => drill.name));
    const local = await readdir(runner.reportsDirectory, { withFileTypes: true }).catch(() => []);
    for (const entry of local) {
      if (entry.isDirectory() && !configured.has(entry.name)) candidates.push({ drill: entry.name, sources: { reportsDirectory: runner.reportsDirectory } });
    }
  }
  const { found, problems } = await findRunInDrills(candidates, runId);
  if (found) return { report: found.report, sources: found.candidate.sources };
  const where = named ? `drill "${named}"` : 'any drill';
  const why = problems.length > 0 ? ` (and: ${problems.join('; ')})` : '';
  throw new UsageError(`no report of run ${runId} in ${where}${why}; see firedrill history <drill> for run ids`);
}

/** Hands the file to the desktop's opener; where there is none (a server), says where the file is instead. */
async function openInBrowser(path: string, output: Output): Promise<void> {
  const opener = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
  await new Promise<void>((done) => {
    const child = spawn(opener, [path], { detached: true, stdio: 'ignore' });
    child.once('error', (error) => {
      output.err(`firedrill: cannot open a browser here (${opener}: ${errorMessage(error)}); open ${path} yourself`);
      done();
    });
    child.once('spawn', () => {
      child.unref();
      done();
    });
  });
}
