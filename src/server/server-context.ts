import type { DrillConfig, RunnerConfig } from '../config/load.ts';
import type { Repository, ScheduledDrill, SchedulerView } from '../interfaces.ts';
import type { Logger } from '../logger.ts';
import type { Secret } from '../secret.ts';
import type { Report } from '../report/report.ts';
import { readRecentReports, type HistoryCandidate, type HistorySources } from '../report/history.ts';
import { repositoryFor } from '../repository/registry.ts';
import { errorMessage } from '../errors.ts';

/** What every handler reads: the scheduler, the config (drills as of the last reload), where reports are. */
export interface ServerContext {
  scheduler: SchedulerView;
  runner: RunnerConfig;
  /** The configured drills now: a reload (SIGHUP) replaces the list. */
  drills(): DrillConfig[];
  logger: Logger;
  /** server.token: what POST /api/drills/:name/run requires; undefined turns on-demand runs over HTTP off. */
  token: Secret | undefined;
  /** A configured drill by name; undefined for anything else, so no other text ever reaches a file path. */
  findDrill(name: string): DrillConfig | undefined;
  /** Where a drill's reports are: this machine's reports directory and its repository. */
  sourcesFor(drill: DrillConfig): HistorySources & { problems: string[] };
}

export function createServerContext(options: { scheduler: SchedulerView; runner: RunnerConfig; drills: () => DrillConfig[]; logger: Logger; token: Secret | undefined }): ServerContext {
  // One repository object per drill config, not per request (an S3 repository holds a client); a reload brings new drill objects, and new repositories with them.
  const repositories = new WeakMap<DrillConfig, { repository?: Repository; problem?: string }>();
  return {
    ...options,
    findDrill: (name) => options.drills().find((drill) => drill.name === name),
    sourcesFor(drill) {
      let entry = repositories.get(drill);
      if (!entry) {
        try {
          entry = { repository: repositoryFor(options.runner, drill) };
        } catch (error) {
          entry = { problem: `the repository of drill ${drill.name} is unusable (${errorMessage(error)}); showing this machine's reports only` };
        }
        repositories.set(drill, entry);
      }
      return { reportsDirectory: options.runner.reportsDirectory, repository: entry.repository, problems: entry.problem ? [entry.problem] : [] };
    },
  };
}

export function historyCandidates(context: ServerContext): HistoryCandidate[] {
  return context.drills().map((drill) => ({ drill: drill.name, sources: context.sourcesFor(drill) }));
}

/** One configured drill as the dashboard and `GET /api/drills` show it. */
export interface DrillOverview {
  drill: DrillConfig;
  /** What the scheduler says of it; undefined when it does not know the drill (yet: a reload in progress). */
  scheduled: ScheduledDrill | undefined;
  /** Its newest runs, newest first. */
  recent: Report[];
  /** What could not be read, each a sentence. */
  problems: string[];
}

/** Every configured drill, in config order, with its newest `runs` reports. */
export async function readOverview(context: ServerContext, runs: number): Promise<DrillOverview[]> {
  const scheduled = new Map(context.scheduler.drills().map((entry) => [entry.drill, entry]));
  return Promise.all(
    context.drills().map(async (drill) => {
      const sources = context.sourcesFor(drill);
      const { reports, problems } = await readRecentReports(sources, drill.name, runs);
      return { drill, scheduled: scheduled.get(drill.name), recent: reports, problems: [...sources.problems, ...problems] };
    }),
  );
}

/** The run of a drill the scheduler has queued or running, if it is that run id. */
export function activeRun(scheduler: SchedulerView, runId: string): ScheduledDrill | undefined {
  return scheduler.drills().find((entry) => entry.runId === runId && entry.activity !== 'idle');
}
