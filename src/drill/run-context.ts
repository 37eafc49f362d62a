import type { Logger } from '../logger.ts';
import type { RunContext } from '../interfaces.ts';
import type { PhaseRecord } from '../report/report.ts';
import { Releasers } from './releasers.ts';

/**
 * The context every step of a run receives. `phase()` times a named step,
 * gives it a logger bound to `phase`, and records it for the report; the
 * innermost phase that failed is remembered so the report can say where.
 */
export class DrillRunContext implements RunContext {
  readonly runId: string;
  readonly drillName: string;
  readonly logger: Logger;
  readonly signal: AbortSignal;
  readonly releasers: Releasers;
  readonly phases: PhaseRecord[] = [];
  failedPhase: string | undefined;
  readonly #clock: () => Date;

  constructor(options: { runId: string; drillName: string; logger: Logger; signal: AbortSignal; clock: () => Date }) {
    this.runId = options.runId;
    this.drillName = options.drillName;
    this.logger = options.logger;
    this.signal = options.signal;
    this.releasers = new Releasers(options.logger);
    this.#clock = options.clock;
  }

  async phase<T>(name: string, work: (logger: Logger) => Promise<T>): Promise<T> {
    const record: PhaseRecord = { name, startedAt: this.#clock().toISOString(), durationMs: 0, status: 'ok' };
    this.phases.push(record);
    const started = performance.now();
    const logger = this.logger.child({ phase: name });
    logger.debug('phase started');
    try {
      return await work(logger);
    } catch (error) {
      record.status = 'failed';
      // Phases nest: the first to record a failure is the innermost one.
      this.failedPhase ??= name;
      throw error;
    } finally {
      record.durationMs = Math.round(performance.now() - started);
      logger.info({ durationMs: record.durationMs, status: record.status }, `${name} ${record.status === 'ok' ? 'done' : 'failed'}`);
    }
  }
}
