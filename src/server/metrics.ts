import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { SchedulerView } from '../interfaces.ts';
import { drillMetricsRegistry } from '../report/drill-metrics.ts';
import { readDrillStates } from '../report/json-file-reporter.ts';

/**
 * `GET /metrics`: the configured drills' metrics from their newest reports
 * (the same as `run --metrics-file` writes), the scheduler's state, and prom-client's
 * default process metrics. Labels are `drill` only (and `phase` on phase
 * durations): series are bounded by what is configured.
 */

export interface MetricsSource {
  /** Renders the exposition text; `contentType` is the registry's own. */
  scrape(): Promise<{ contentType: string; text: string }>;
}

export function createMetricsSource(options: { reportsDirectory: string; scheduler: SchedulerView }): MetricsSource {
  // Process metrics keep state (CPU time, GC) between scrapes: one registry for the server's life.
  const processRegistry = new Registry();
  collectDefaultMetrics({ register: processRegistry });
  return {
    async scrape() {
      // Configured drills only: reports of a drill removed from the config stay on disk, its series should not.
      const configured = new Set(options.scheduler.drills().map((drill) => drill.drill));
      const states = (await readDrillStates(options.reportsDirectory)).filter((state) => configured.has(state.latest.drill));
      const drills = drillMetricsRegistry(states);
      const merged = Registry.merge([processRegistry, drills, schedulerRegistry(options.scheduler)]);
      return { contentType: merged.contentType, text: await merged.metrics() };
    },
  };
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
