import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Repository } from '../interfaces.ts';
import { REPORT_SCHEMA_VERSION, type Report } from './report.ts';
import { RTO_TREND_RUNS } from './objectives.ts';
import { errorMessage } from '../errors.ts';
import { isId } from '../drill/ids.ts';

/**
 * A drill's history: its earlier reports, newest first. Two places hold them.
 * The local reports directory has every run made on this machine; the
 * drill's repository has every run made anywhere (another host, a replica, a
 * CI job), since each run keeps its report beside the backups. History is
 * the union of both, by run id, read lazily: callers stop as soon as they
 * have enough, so years of reports cost only the reads that are needed.
 *
 * A repository that fails (S3 down) is asked once, not once per report: the
 * rest of the history comes from this machine, and the problem is said.
 */

export interface HistorySources {
  reportsDirectory: string;
  repository?: Repository | undefined;
}

export interface History {
  /** Newest first. */
  reports: AsyncGenerator<Report>;
  /** What could not be read (filled while reading): each a sentence. */
  problems: string[];
}

/** Reading stops here even when fewer passed runs were found for the RTO median: a long red streak is not read to its start. */
export const HISTORY_READ_LIMIT = 200;

export function readHistory(sources: HistorySources, drill: string, signal?: AbortSignal): History {
  const problems: string[] = [];
  return { reports: reportsNewestFirst(sources, drill, problems, signal), problems };
}

/** The newest `limit` reports, and the problems met reading them. */
export async function readRecentReports(sources: HistorySources, drill: string, limit: number): Promise<{ reports: Report[]; problems: string[] }> {
  return readRunsUpTo(sources, drill, undefined, limit);
}

/** The `limit` newest reports up to and including run `runId` (all runs when undefined): the history as it was at that run. */
export async function readRunsUpTo(sources: HistorySources, drill: string, runId: string | undefined, limit: number): Promise<{ reports: Report[]; problems: string[] }> {
  const history = readHistory(sources, drill);
  const reports: Report[] = [];
  if (limit > 0) {
    for await (const report of history.reports) {
      if (runId !== undefined && report.runId > runId) continue;
      reports.push(report);
      if (reports.length >= limit) break;
    }
  }
  return { reports, problems: history.problems };
}

export interface TrendWindow {
  /** The newest runs, newest first, at most `shown`. */
  recent: Report[];
  /** RTOs of the newest passed runs (up to RTO_TREND_RUNS), newest first. */
  passedRtoSeconds: number[];
  problems: string[];
}

/**
 * What judging a run needs from history: the newest `shown` runs, and the
 * RTOs of the last passed ones for the median, however far back they are
 * (within HISTORY_READ_LIMIT reports).
 */
export async function readTrendWindow(sources: HistorySources, drill: string, options: { shown: number; signal?: AbortSignal | undefined }): Promise<TrendWindow> {
  const history = readHistory(sources, drill, options.signal);
  const recent: Report[] = [];
  const passedRtoSeconds: number[] = [];
  let read = 0;
  for await (const report of history.reports) {
    if (recent.length < options.shown) recent.push(report);
    if (report.status === 'passed' && typeof report.measured.rtoSeconds === 'number' && passedRtoSeconds.length < RTO_TREND_RUNS) {
      passedRtoSeconds.push(report.measured.rtoSeconds);
    }
    read += 1;
    if ((recent.length >= options.shown && passedRtoSeconds.length >= RTO_TREND_RUNS) || read >= Math.max(HISTORY_READ_LIMIT, options.shown)) break;
  }
  return { recent, passedRtoSeconds, problems: history.problems };
}

/** One run's report, from this machine's reports or else the repository; undefined when neither has it. */
export async function findReport(sources: HistorySources, drill: string, runId: string): Promise<{ report: Report | undefined; problems: string[] }> {
  const problems: string[] = [];
  const local = await readLocal(join(sources.reportsDirectory, drill, `${runId}.json`), problems);
  let text = local;
  if (text === undefined && sources.repository) {
    try {
      if ((await sources.repository.listRunIds(drill)).includes(runId)) text = await readStored(sources.repository, drill, runId, problems);
    } catch (error) {
      problems.push(`could not list the reports kept in ${sources.repository.describe()}: ${errorMessage(error)}`);
    }
  }
  const where = local !== undefined ? join(sources.reportsDirectory, drill) : (sources.repository?.describe() ?? '');
  return { report: text === undefined ? undefined : parseReport(text, { drill, runId, where }, problems), problems };
}

/** A drill whose history may hold a run: its name and where its reports are. */
export interface HistoryCandidate {
  drill: string;
  sources: HistorySources;
}

/**
 * A run by id among several drills (a run id is unique across drills):
 * every drill's local reports first (no request), then each repository.
 */
export async function findRunInDrills(candidates: HistoryCandidate[], runId: string): Promise<{ found: { report: Report; candidate: HistoryCandidate } | undefined; problems: string[] }> {
  const problems: string[] = [];
  for (const local of [true, false]) {
    for (const candidate of candidates) {
      if (!local && !candidate.sources.repository) continue;
      const sources = local ? { reportsDirectory: candidate.sources.reportsDirectory } : candidate.sources;
      const { report, problems: more } = await findReport(sources, candidate.drill, runId);
      problems.push(...more);
      if (report) return { found: { report, candidate }, problems };
    }
  }
  return { found: undefined, problems };
}

async function* reportsNewestFirst(sources: HistorySources, drill: string, problems: string[], signal: AbortSignal | undefined): AsyncGenerator<Report> {
  const localDirectory = join(sources.reportsDirectory, drill);
  const local = new Set(await localRunIds(localDirectory, problems));
  let repository = sources.repository;
  let stored = new Set<string>();
  if (repository) {
    try {
      stored = new Set(await repository.listRunIds(drill));
    } catch (error) {
      problems.push(`could not list the reports kept in ${repository.describe()}: ${errorMessage(error)}; showing this machine's reports only`);
      repository = undefined;
    }
  }
  // Run ids sort by time as strings: one sorted list of both sources is the whole timeline.
  const runIds = [...new Set([...local, ...stored])].sort().reverse();
  for (const runId of runIds) {
    if (signal?.aborted) return;
    // The local copy first: it is the same report, and reading it costs no request.
    let text = local.has(runId) ? await readLocal(join(localDirectory, `${runId}.json`), problems) : undefined;
    let where = localDirectory;
    if (text === undefined && repository && stored.has(runId)) {
      text = await readStored(repository, drill, runId, problems);
      where = repository.describe();
      if (text === undefined) {
        problems.push(`reading no more reports from ${repository.describe()} for now; showing this machine's reports only`);
        repository = undefined;
      }
    }
    const report = text === undefined ? undefined : parseReport(text, { drill, runId, where }, problems);
    if (report) yield report;
  }
}

async function localRunIds(directory: string, problems: string[]): Promise<string[]> {
  try {
    return (await readdir(directory))
      .filter((name) => name.endsWith('.json'))
      .map((name) => name.slice(0, -'.json'.length))
      .filter(isId);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') problems.push(`could not list the reports in ${directory}: ${errorMessage(error)}`);
    return [];
  }
}

async function readLocal(path: string, problems: string[]): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') problems.push(`could not read the report ${path}: ${errorMessage(error)}`);
    return undefined;
  }
}

async function readStored(repository: Repository, drill: string, runId: string, problems: string[]): Promise<string | undefined> {
  try {
    return await repository.readRunResult(drill, runId);
  } catch (error) {
    problems.push(`could not read the report of run ${runId} from ${repository.describe()}: ${errorMessage(error)}`);
    return undefined;
  }
}

/**
 * A report, if the text is one of this drill's, in a shape this firedrill
 * reads: a file edited by hand, cut short, or written by a newer firedrill
 * is skipped and said, never half-trusted.
 */
function parseReport(text: string, expected: { drill: string; runId: string; where: string }, problems: string[]): Report | undefined {
  const skip = (why: string) => {
    problems.push(`the report of run ${expected.runId} in ${expected.where} ${why}; skipped`);
    return undefined;
  };
  let data: Partial<Report>;
  try {
    data = JSON.parse(text) as Partial<Report>;
  } catch (error) {
    return skip(`is not valid JSON (${errorMessage(error)})`);
  }
  if (typeof data !== 'object' || data === null) return skip('is not a report');
  if (data.drill !== expected.drill || data.runId !== expected.runId) return skip(`belongs to drill ${String(data.drill)}, run ${String(data.runId)}`);
  if (typeof data.schemaVersion !== 'number' || data.schemaVersion > REPORT_SCHEMA_VERSION) {
    return skip(`has report schema ${String(data.schemaVersion)}, and this firedrill reads up to ${REPORT_SCHEMA_VERSION} (upgrade firedrill to read it)`);
  }
  const missing = [
    typeof data.status !== 'string' && 'status',
    typeof data.startedAt !== 'string' && 'startedAt',
    (typeof data.measured !== 'object' || data.measured === null) && 'measured',
    !Array.isArray(data.phases) && 'phases',
    !Array.isArray(data.checks) && 'checks',
  ].filter(Boolean);
  if (missing.length > 0) return skip(`lacks ${missing.join(', ')}`);
  return data as Report;
}
