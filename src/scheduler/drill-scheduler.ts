import { randomInt } from 'node:crypto';
import { createTask, type ScheduledTask } from 'node-cron';
import type { Logger } from '../logger.ts';
import type { RunRequestOutcome, ScheduledDrill, SchedulerView } from '../interfaces.ts';
import type { DrillConfig, RunnerConfig } from '../config/load.ts';
import type { RunTrigger } from '../report/report.ts';
import { runDrill } from '../drill/run-drill.ts';
import { newId } from '../drill/ids.ts';
import { JsonFileReporter } from '../report/json-file-reporter.ts';
import { errorMessage } from '../errors.ts';
import { TASK_NAME_PREFIX, type DrillLock, type PostgresRunCoordinator } from './postgres-coordinator.ts';

/**
 * The drills of `firedrill serve`: one node-cron task per drill with a
 * schedule, and a queue in front of the drills so that at most
 * `scheduler.concurrency` run at once (further runs wait, in order).
 *
 * A drill is never queued or run twice at once: a fire or request that finds
 * it busy is skipped (here: `#active`; across replicas: the coordinator's
 * drill lock, held from queueing until the run ends). Shutdown stops the
 * fires, aborts what is queued (each gets an `aborted` report, so no
 * accepted run goes unanswered), lets running drills finish within the
 * grace period and then aborts them: their runs release everything and
 * report `aborted`.
 */

const SHUTTING_DOWN = 'the service is shutting down';

interface ActiveRun {
  drill: string;
  runId: string;
  trigger: RunTrigger;
  state: 'queued' | 'running';
  controller: AbortController;
  /** The cross-replica drill lock, released when the run ends. */
  unlock: DrillLock | undefined;
  finished: Promise<void>;
  start: () => void;
}

export interface DrillSchedulerOptions {
  runner: RunnerConfig;
  drills: DrillConfig[];
  logger: Logger;
  coordinator?: PostgresRunCoordinator | undefined;
}

export class DrillScheduler implements SchedulerView {
  #runner: RunnerConfig;
  #drills: DrillConfig[];
  readonly #logger: Logger;
  readonly #coordinator: PostgresRunCoordinator | undefined;
  readonly #tasks = new Map<string, ScheduledTask>();
  readonly #active = new Map<string, ActiveRun>();
  readonly #waiting: ActiveRun[] = [];
  /** Random start delays under way: cut short (the fire dropped) on shutdown. */
  readonly #delays = new Set<() => void>();
  #started = false;
  #stopping = false;

  constructor(options: DrillSchedulerOptions) {
    this.#runner = options.runner;
    this.#drills = options.drills;
    this.#logger = options.logger.child({ component: 'scheduler' });
    this.#coordinator = options.coordinator;
  }

  get ready(): boolean {
    return this.#started && !this.#stopping;
  }

  get stopping(): boolean {
    return this.#stopping;
  }

  get runner(): RunnerConfig {
    return this.#runner;
  }

  get drillConfigs(): DrillConfig[] {
    return this.#drills;
  }

  start(): void {
    if (this.#stopping || this.#tasks.size > 0) return;
    for (const drill of this.#drills) {
      if (!drill.schedule) continue;
      const task = createTask(drill.schedule, (context) => this.#fire(drill.name, context.date), {
        name: `${TASK_NAME_PREFIX}${drill.name}`,
        timezone: this.#timezoneOf(drill),
        noOverlap: true,
        // The random delay is this scheduler's (#fire): node-cron's cannot be cut short on shutdown.
        maxRandomDelay: 0,
        ...(this.#coordinator ? { distributed: true, runCoordinator: this.#coordinator } : {}),
        logger: cronLogger(this.#logger.child({ drill: drill.name })),
      });
      task.on('execution:overlap', () => this.#logger.warn({ drill: drill.name }, 'fire skipped: the previous run of this drill is still going'));
      task.on('execution:missed', (context) => this.#logger.warn({ drill: drill.name, missed: context.date }, 'a fire was missed (the process was busy or asleep)'));
      task.on('execution:skipped', (context) => {
        if (context.reason === 'coordinator-error') this.#logger.error({ drill: drill.name, fire: context.date }, 'fire skipped: the coordination database did not answer');
      });
      // Synchronous for a task in this process; the promise type is for node-cron's background tasks.
      void task.start();
      this.#tasks.set(drill.name, task);
    }
    this.#started = true;
    const scheduled = [...this.#tasks.keys()];
    this.#logger.info({ scheduled, onDemandOnly: this.#drills.length - scheduled.length }, `scheduling ${scheduled.length} drill(s)`);
  }

  /** New config (SIGHUP): new tasks from now on; a run already queued or running keeps going, and one that starts later uses the new drill config. */
  reload(runner: RunnerConfig, drills: DrillConfig[]): void {
    if (this.#stopping) return;
    this.#stopTasks();
    this.#runner = runner;
    this.#drills = drills;
    this.start();
  }

  drills(): ScheduledDrill[] {
    return this.#drills.map((drill) => {
      const active = this.#active.get(drill.name);
      return {
        drill: drill.name,
        schedule: drill.schedule,
        timezone: this.#timezoneOf(drill),
        nextRunAt: this.#tasks.get(drill.name)?.getNextRun() ?? undefined,
        activity: active?.state ?? 'idle',
        runId: active?.runId,
      };
    });
  }

  queueLength(): number {
    return this.#waiting.length;
  }

  runningCount(): number {
    return this.#active.size - this.#waiting.length;
  }

  async requestRun(name: string): Promise<RunRequestOutcome> {
    if (this.#stopping) return { outcome: 'shutting down' };
    if (!this.#drills.some((drill) => drill.name === name)) return { outcome: 'unknown drill' };
    const active = this.#active.get(name);
    if (active) return { outcome: 'already running', runId: active.runId, where: 'here' };
    let unlock: DrillLock | undefined;
    if (this.#coordinator) {
      try {
        unlock = await this.#coordinator.tryLockDrill(name);
      } catch (error) {
        return { outcome: 'unavailable', reason: `the coordination database did not answer (${errorMessage(error)})` };
      }
      if (!unlock) return { outcome: 'already running', runId: undefined, where: 'another replica' };
    }
    // Things may have moved while the lock was taken: a fire of this drill here, or a shutdown.
    const busy = this.#stopping ? 'stopping' : this.#active.has(name) ? 'busy' : undefined;
    if (busy) {
      await unlock?.();
      return busy === 'stopping' ? { outcome: 'shutting down' } : { outcome: 'already running', runId: this.#active.get(name)?.runId, where: 'here' };
    }
    const run = this.#enqueue(name, { kind: 'api' }, unlock);
    return { outcome: 'accepted', runId: run.runId, queued: run.state === 'queued' };
  }

  /**
   * Stops for good: no new fires or requests; queued runs are aborted
   * before they start; running drills get `graceMs` to finish and are then
   * aborted. Resolves when every run has released what it held.
   */
  async shutdown(graceMs: number): Promise<void> {
    this.#stopping = true;
    this.#stopTasks();
    for (const cancel of this.#delays) cancel();
    const running = [...this.#active.values()].filter((run) => run.state === 'running');
    for (const run of this.#waiting.splice(0)) {
      this.#logger.warn({ drill: run.drill, runId: run.runId }, `queued run aborted before it started: ${SHUTTING_DOWN}`);
      run.controller.abort(SHUTTING_DOWN);
      run.start();
    }
    if (running.length > 0) {
      this.#logger.info({ running: running.map((run) => run.drill), graceMs }, 'waiting for running drills to finish');
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<'expired'>((resolve) => (timer = setTimeout(() => resolve('expired'), graceMs)));
      const finished = Promise.all(running.map((run) => run.finished)).then(() => 'finished' as const);
      if ((await Promise.race([finished, grace])) === 'expired') {
        this.#logger.warn({ running: running.map((run) => run.drill) }, 'grace period over: aborting running drills');
        for (const run of running) run.controller.abort(SHUTTING_DOWN);
      }
      clearTimeout(timer);
    }
    await Promise.all([...this.#active.values()].map((run) => run.finished));
  }

  #stopTasks(): void {
    // destroy() only stops the timers: a fire already under way goes on, through #fire.
    for (const task of this.#tasks.values()) void task.destroy();
    this.#tasks.clear();
  }

  /** A scheduled fire (the coordinator, if any, has already elected this replica): runs it, through the queue, and waits for it. */
  async #fire(drill: string, scheduledFor: Date): Promise<void> {
    const delayMs = this.#runner.scheduler.maxRandomDelay > 0 ? randomInt(this.#runner.scheduler.maxRandomDelay + 1) : 0;
    if (delayMs > 0 && !(await this.#delay(delayMs))) {
      this.#logger.warn({ drill, scheduledFor }, `fire dropped during its random delay: ${SHUTTING_DOWN}`);
      return;
    }
    if (this.#stopping) return;
    const active = this.#active.get(drill);
    if (active) {
      this.#logger.warn({ drill, runId: active.runId }, `fire skipped: the drill is ${active.state} already`);
      return;
    }
    let unlock: DrillLock | undefined;
    if (this.#coordinator) {
      try {
        unlock = await this.#coordinator.tryLockDrill(drill);
      } catch (error) {
        this.#logger.error({ drill, scheduledFor, err: errorMessage(error) }, 'fire skipped: the coordination database did not answer');
        return;
      }
      if (!unlock) {
        this.#logger.warn({ drill, scheduledFor }, 'fire skipped: the drill is still running on another replica');
        return;
      }
      if (this.#stopping || this.#active.has(drill)) {
        await unlock();
        return;
      }
    }
    await this.#enqueue(drill, { kind: 'schedule', scheduledFor: scheduledFor.toISOString() }, unlock).finished;
  }

  /** Waits; false when shutdown cut the wait short. */
  #delay(milliseconds: number): Promise<boolean> {
    return new Promise((resolve) => {
      const cancel = () => {
        clearTimeout(timer);
        this.#delays.delete(cancel);
        resolve(false);
      };
      const timer = setTimeout(() => {
        this.#delays.delete(cancel);
        resolve(true);
      }, milliseconds);
      this.#delays.add(cancel);
    });
  }

  #enqueue(drill: string, trigger: RunTrigger, unlock: DrillLock | undefined): ActiveRun {
    let start!: () => void;
    const started = new Promise<void>((resolve) => (start = resolve));
    const run: ActiveRun = { drill, runId: newId(), trigger, state: 'queued', controller: new AbortController(), unlock, start, finished: Promise.resolve() };
    run.finished = started.then(() => this.#execute(run));
    this.#active.set(drill, run);
    this.#waiting.push(run);
    this.#logger.info({ drill, runId: run.runId, trigger: trigger.kind }, 'drill queued');
    this.#pump();
    return run;
  }

  /** Starts queued runs, oldest first, while fewer than `scheduler.concurrency` run. */
  #pump(): void {
    while (!this.#stopping && this.#waiting.length > 0 && this.runningCount() < this.#runner.scheduler.concurrency) {
      const next = this.#waiting.shift() as ActiveRun;
      next.state = 'running';
      next.start();
    }
  }

  async #execute(run: ActiveRun): Promise<void> {
    // The drill's config when the run starts: a reload while it waited counts.
    const drill = this.#drills.find((candidate) => candidate.name === run.drill);
    try {
      if (!drill) {
        this.#logger.warn({ drill: run.drill, runId: run.runId }, 'run dropped: the drill is no longer configured');
        return;
      }
      // runDrill logs the outcome and writes the report, also when the run was aborted before it began.
      await runDrill(drill, {
        runner: this.#runner,
        logger: this.#logger,
        signal: run.controller.signal,
        reporters: [new JsonFileReporter(this.#runner.reportsDirectory)],
        runId: run.runId,
        trigger: run.trigger,
      });
    } catch (error) {
      // runDrill reports its own failures; this is a bug, said loudly without stopping the service.
      this.#logger.error({ drill: run.drill, runId: run.runId, err: errorMessage(error) }, 'the drill run failed unexpectedly');
    } finally {
      this.#active.delete(run.drill);
      await run.unlock?.();
      this.#pump();
    }
  }

  #timezoneOf(drill: DrillConfig): string {
    // Replicas must agree on a fire's time to agree on its key: with coordination, hosts' own timezones are not used.
    return drill.timezone ?? this.#runner.scheduler.timezone ?? (this.#coordinator ? 'UTC' : Intl.DateTimeFormat().resolvedOptions().timeZone);
  }
}

/** node-cron's own messages through pino. */
function cronLogger(logger: Logger) {
  return {
    info: (message: string) => logger.debug(message),
    warn: (message: string) => logger.debug(message),
    error: (message: string | Error, error?: Error) => logger.error({ err: errorMessage(error ?? message) }, typeof message === 'string' ? message : 'node-cron error'),
    debug: (message: string | Error) => logger.debug(String(message)),
  };
}
