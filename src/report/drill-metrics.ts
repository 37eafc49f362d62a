import { Gauge, Registry } from 'prom-client';
import type { Report } from './report.ts';

/**
 * Prometheus metrics of drills, from their reports. Labels are `drill` and
 * `phase` only: both come from the configuration (drill files, check names),
 * so the number of series is bounded by what is configured, never by what
 * happened (no run ids, no messages, no hosts, no secrets).
 */

export interface DrillState {
  /** The drill's newest report. */
  latest: Report;
  /** Its newest report that passed, if any (the same one when the newest passed). */
  lastPassed?: Report | undefined;
}

export function drillMetricsRegistry(states: DrillState[]): Registry {
  const registry = new Registry();
  const gauge = (name: string, help: string, labelNames: string[] = ['drill']) => new Gauge({ name, help, labelNames, registers: [registry] });
  const lastRun = gauge('firedrill_drill_last_run_timestamp_seconds', 'When the drill last finished, as a Unix time.');
  const lastSuccess = gauge('firedrill_drill_last_success_timestamp_seconds', 'When the drill last passed, as a Unix time (absent when it never passed).');
  const status = gauge('firedrill_drill_status', 'Outcome of the last run: 1 passed, 0 failed, error or aborted.');
  const rto = gauge('firedrill_drill_rto_seconds', 'Recovery time of the last run: restore start until verified (absent when not verified).');
  const rpo = gauge('firedrill_drill_rpo_seconds', 'Age of the restored data in the last run (absent when nothing was restored).');
  const size = gauge('firedrill_backup_size_bytes', 'Stored size of the backup the last run drilled.');
  const phase = gauge('firedrill_phase_duration_seconds', 'Duration of each phase of the last run.', ['drill', 'phase']);
  const checkFailures = gauge('firedrill_check_failures', 'Checks that failed in the last run.');

  for (const { latest, lastPassed } of states) {
    const drill = latest.drill;
    lastRun.set({ drill }, Date.parse(latest.finishedAt) / 1000);
    if (lastPassed) lastSuccess.set({ drill }, Date.parse(lastPassed.finishedAt) / 1000);
    status.set({ drill }, latest.status === 'passed' ? 1 : 0);
    if (latest.measured.rtoSeconds !== null) rto.set({ drill }, latest.measured.rtoSeconds);
    if (latest.measured.rpoSeconds !== null) rpo.set({ drill }, latest.measured.rpoSeconds);
    if (latest.backup) size.set({ drill }, latest.backup.sizeBytes);
    for (const entry of latest.phases) phase.set({ drill, phase: entry.name }, entry.durationMs / 1000);
    checkFailures.set({ drill }, latest.checks.filter((check) => check.status === 'failed').length);
  }
  return registry;
}
