import type { ServerResponse } from 'node:http';
import { findReport, readRecentReports, readRunsUpTo } from '../report/history.ts';
import { HISTORY_STRIP_RUNS, renderHtmlReport } from '../report/html-report.ts';
import { isId } from '../drill/ids.ts';
import { sendPage, sendPageError } from './respond.ts';
import type { ServerContext } from './server-context.ts';

/**
 * `GET /reports/<drill>/<runId>.html` and `/reports/<drill>/latest.html`: a
 * run's HTML report, with the drill's history as it was at that run, the
 * same page `firedrill report` writes. The drill must be a configured one and
 * the run a well-formed run id before either comes near a file path.
 */
export async function reportPage(context: ServerContext, response: ServerResponse, drillName: string, run: string): Promise<void> {
  const drill = context.findDrill(drillName);
  if (!drill) return sendPageError(response, 404, 'No drill by that name is configured here; the dashboard at / lists the drills.');
  if (run !== 'latest' && !isId(run)) return sendPageError(response, 404, `That is not a run id (like 20261126T031500Z-3f9a1c) or "latest"; the dashboard at / links each drill's latest report.`);
  const sources = context.sourcesFor(drill);
  const found = run === 'latest' ? (await readRecentReports(sources, drill.name, 1)).reports[0] : (await findReport(sources, drill.name, run)).report;
  if (!found) {
    const what = run === 'latest' ? 'no reports yet' : `no report of run ${run}`;
    return sendPageError(response, 404, `Drill ${drill.name} has ${what}; GET /api/drills/${drill.name}/runs lists its runs.`);
  }
  const { reports: history, problems } = await readRunsUpTo(sources, drill.name, found.runId, HISTORY_STRIP_RUNS);
  for (const problem of [...sources.problems, ...problems]) context.logger.warn({ drill: drill.name }, problem);
  sendPage(response, 200, renderHtmlReport(found, history));
}
