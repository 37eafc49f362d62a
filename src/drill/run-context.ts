import type { Logger } from '../logger.ts';
import type { RunContext } from '../interfaces.ts';
import type { PhaseRecord } from '../report/report.ts';
import { Releasers } from './releasers.ts';
import { throwIfAborted } from '../abort.ts';

/**
 * The context every step of a run receives. `phase()` times a named step,
 * gives it a logger bound to `phase`, and records it for the report. No phase
 * starts once the run is aborted, and one that finishes after the abort
 * still ends the run: a signal is never lost between two steps.
 */
export class DrillRunContext implements RunContext {
  readonly runId: string;
  readonly drillName: string;
  readonly logger: Logger;
  readonly signal: AbortSignal;
  readonly releasers: Releasers;
  readonly phases: PhaseRecord[] = [];
  /** For each error that left a phase, the innermost phase it left: where the report says it happened. */
  readonly #phaseOfError = new WeakMap<object, string>();
  readonly #clock: () => Date;

  constructor(options: { runId: string; drillName: string; logger: Logger; signal: AbortSignal; clock: () => Date }) {
    this.runId = options.runId;
    this.drillName = options.drillName;
    this.logger = options.logger;
    this.signal = options.signal;
    this.releasers = new Releasers(options.logger);
    this.#clock = options.clock;
  }

  /** `failedIf` marks a phase failed that ended normally with a failing result (a check that found a problem). */
  async phase<T>(name: string, work: (logger: Logger) => Promise<T>, failedIf?: (result: T) => boolean): Promise<T> {
    throwIfAborted(this.signal);
    const record: PhaseRecord = { name, startedAt: this.#clock().toISOString(), durationMs: 0, status: 'ok' };
    this.phases.push(record);
    const started = performance.now();
    const logger = this.logger.child({ phase: name });
    logger.debug('phase started');
    try {
      const result = await work(logger);
      throwIfAborted(this.signal);
      if (failedIf?.(result)) record.status = 'failed';
      return result;
    } catch (error) {
      record.status = 'failed';
      if (typeof error === 'object' && error !== null && !this.#phaseOfError.has(error)) this.#phaseOfError.set(error, name);
      throw error;
    } finally {
      record.durationMs = Math.round(performance.now() - started);
      logger.info({ durationMs: record.durationMs, status: record.status }, `${name} ${record.status === 'ok' ? 'done' : 'failed'}`);
    }
  }

  /** The innermost phase the error, or an error it wraps as its `cause`, came out of. */
  phaseOf(error: unknown, depth = 0): string | undefined {
    if (typeof error !== 'object' || error === null || depth > 10) return undefined;
    return this.phaseOf((error as { cause?: unknown }).cause, depth + 1) ?? this.#phaseOfError.get(error);
  }
}
