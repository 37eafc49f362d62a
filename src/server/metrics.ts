import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { SchedulerView } from '../interfaces.ts';
import { drillMetricsRegistry, type DrillState } from '../report/drill-metrics.ts';
import { readHistory } from '../report/history.ts';
import type { Report } from '../report/report.ts';
import type { ServerContext } from './server-context.ts';

/**
 * `GET /metrics`: the configured drills' metrics from their newest reports
 * (the same metrics as `run --metrics-file`), the scheduler's state, and prom-client's
 * default process metrics. Labels are `drill` only (and `phase` on phase
 * durations): series are bounded by what is configured.
 */

export interface MetricsSource {
  /** Renders the exposition text; `contentType` is the registry's own. */
  scrape(): Promise<{ contentType: string; text: string }>;
}

/** How far back a scrape looks for a drill's last success: a drill red for longer shows no success timestamp (absent, as for never). */
const SUCCESS_LOOKBACK_RUNS = 50;
/** Scrapes within this share one read of history: Prometheus every 15 s must not become a repository listing every 15 s per drill and replica. */
const STATES_CACHE_MS = 10_000;

export function createMetricsSource(context: ServerContext): MetricsSource {
  // Process metrics keep state (CPU time, GC) between scrapes: one registry for the server's life.
  const processRegistry = new Registry();
  collectDefaultMetrics({ register: processRegistry });
  let cached: { at: number; states: Promise<DrillState[]> } | undefined;
  return {
    async scrape() {
      if (!cached || Date.now() - cached.at > STATES_CACHE_MS) cached = { at: Date.now(), states: drillStates(context) };
      const drills = drillMetricsRegistry(await cached.states);
      const merged = Registry.merge([processRegistry, drills, schedulerRegistry(context.scheduler)]);
      return { contentType: merged.contentType, text: await merged.metrics() };
    },
  };
}

/**
 * Each configured drill's newest run and newest passed run, from its whole
 * history: this machine's reports and the repository's, so every replica
 * shows the same values whichever of them ran the drill. Drills no longer
 * configured have no series.
 */
async function drillStates(context: ServerContext): Promise<DrillState[]> {
  const states = await Promise.all(
    context.drills().map(async (drill): Promise<DrillState | undefined> => {
      const history = readHistory(context.sourcesFor(drill), drill.name);
      let latest: Report | undefined;
      let lastPassed: Report | undefined;
      let read = 0;
      for await (const report of history.reports) {
        latest ??= report;
        read += 1;
        if (report.status === 'passed') lastPassed = report;
        if (lastPassed || read >= SUCCESS_LOOKBACK_RUNS) break;
      }
      for (const problem of history.problems) context.logger.warn({ drill: drill.name }, problem);
      return latest ? { latest, lastPassed } : undefined;
    }),
  );
  return states.filter((state) => state !== undefined);
}

/** Built fresh for each scrape, so a drill removed by a reload leaves no stale series behind. */
export function schedulerRegistry(scheduler: SchedulerView): Registry {
  const registry = new Registry();
  const nextRun = new Gauge({ name: 'firedrill_scheduler_next_run_timestamp_seconds', help: 'When the drill is next scheduled to run, as a Unix time (absent for drills without a schedule).', labelNames: ['drill'], registers: [registry] });
  const running = new Gauge({ name: 'firedrill_scheduler_running_drills', help: 'Drills running now in this process.', registers: [registry] });
  const queued = new Gauge({ name: 'firedrill_scheduler_queue_length', help: 'Runs waiting for a free slot (scheduler.concurrency).', registers: [registry] });
  for (const drill of scheduler.drills()) {
    if (drill.nextRunAt) nextRun.set({ drill: drill.drill }, drill.nextRunAt.getTime() / 1000);
  }
  running.set(scheduler.runningCount());
  queued.set(scheduler.queueLength());
  return registry;
}
