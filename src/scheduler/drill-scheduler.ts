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
 * `scheduler.concurrency` run at once (further fires wait, in order).
 *
 * A drill is never queued or run twice at once: a fire that finds it busy is
 * skipped (node-cron's `noOverlap` within this process, the coordinator's
 * drill lock across replicas). Shutdown stops the fires, drops what is
 * queued, lets running drills finish within the grace period and then
 * aborts them: their runs release everything and report `aborted`.
 */

interface ActiveRun {
  drill: string;
  runId: string;
  trigger: RunTrigger;
  state: 'queued' | 'running';
  controller: AbortController;
  /** Releases the cross-replica drill lock of an on-demand run (scheduled fires release theirs through node-cron's onComplete). */
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

  get runner(): RunnerConfig {
    return this.#runner;
  }

  get drillConfigs(): DrillConfig[] {
    return this.#drills;
  }

  start(): void {
    for (const drill of this.#drills) {
      if (!drill.schedule) continue;
      const timezone = this.#timezoneOf(drill);
      const task = createTask(drill.schedule, (context) => this.#fire(drill.name, context.date), {
        name: `${TASK_NAME_PREFIX}${drill.name}`,
        timezone,
        noOverlap: true,
        maxRandomDelay: this.#runner.scheduler.maxRandomDelay,
        ...(this.#coordinator ? { distributed: true, runCoordinator: this.#coordinator } : {}),
        logger: cronLogger(this.#logger.child({ drill: drill.name })),
      });
      task.on('execution:overlap', () => this.#logger.warn({ drill: drill.name }, 'fire skipped: the previous run of this drill is still going'));
      task.on('execution:missed', (context) => this.#logger.warn({ drill: drill.name, missed: context.date }, 'a fire was missed (the process was busy or asleep)'));
      void task.start();
      this.#tasks.set(drill.name, task);
    }
    this.#started = true;
    const scheduled = [...this.#tasks.keys()];
    this.#logger.info({ scheduled, onDemandOnly: this.#drills.length - scheduled.length }, `scheduling ${scheduled.length} drill(s)`);
  }

  /** New config (SIGHUP): new tasks from now on; runs already queued or running finish with the config they started with. */
  async reload(runner: RunnerConfig, drills: DrillConfig[]): Promise<void> {
    await this.#stopTasks();
    this.#runner = runner;
    this.#drills = drills;
    this.start();
  }

  drills(): ScheduledDrill[] {
    return this.#drills.map((drill) => {
      const active = this.#active.get(drill.name);
      const next = this.#tasks.get(drill.name)?.getNextRun();
      return {
        drill: drill.name,
        schedule: drill.schedule,
        timezone: this.#timezoneOf(drill),
        nextRunAt: next ?? undefined,
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
    const unlock = this.#coordinator ? await this.#coordinator.tryLockDrill(name) : undefined;
    if (this.#coordinator && !unlock) return { outcome: 'already running', runId: undefined, where: 'another replica' };
    // The lock was taken while this replica might have started the drill itself: check again.
    if (this.#active.has(name)) {
      await unlock?.();
      return { outcome: 'already running', runId: this.#active.get(name)?.runId, where: 'here' };
    }
    const run = this.#enqueue(name, { kind: 'api' }, unlock);
    return { outcome: 'accepted', runId: run.runId, queued: run.state === 'queued' };
  }

  /**
   * Stops for good: no new fires or requests, nothing queued starts, running
   * drills get `graceMs` to finish and are then aborted (sandboxes removed,
   * status `aborted`). Resolves when every run has released what it held.
   */
  async shutdown(graceMs: number): Promise<void> {
    this.#stopping = true;
    await this.#stopTasks();
    for (const run of this.#waiting.splice(0)) {
      this.#logger.warn({ drill: run.drill, runId: run.runId }, 'queued run dropped: the service is shutting down');
      this.#active.delete(run.drill);
      await run.unlock?.();
      run.start();
    }
    const running = [...this.#active.values()];
    if (running.length === 0) return;
    this.#logger.info({ running: running.map((run) => run.drill), graceMs }, 'waiting for running drills to finish');
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<'expired'>((resolve) => (timer = setTimeout(() => resolve('expired'), graceMs)));
    const finished = Promise.all(running.map((run) => run.finished)).then(() => 'finished' as const);
    if ((await Promise.race([finished, grace])) === 'expired') {
      this.#logger.warn({ running: running.map((run) => run.drill) }, 'grace period over: aborting running drills');
      for (const run of running) run.controller.abort('the service is shutting down');
    }
    clearTimeout(timer);
    await finished;
  }

  async #stopTasks(): Promise<void> {
    for (const task of this.#tasks.values()) await task.destroy();
    this.#tasks.clear();
  }

  /** A scheduled fire (the coordinator, if any, has already elected this replica): runs it, through the queue, and waits for it. */
  async #fire(drill: string, scheduledFor: Date): Promise<void> {
    if (this.#stopping) return;
    const active = this.#active.get(drill);
    if (active) {
      this.#logger.warn({ drill, runId: active.runId }, `fire skipped: the drill is ${active.state} already`);
      return;
    }
    await this.#enqueue(drill, { kind: 'schedule', scheduledFor: scheduledFor.toISOString() }, undefined).finished;
  }

  #enqueue(drill: string, trigger: RunTrigger, unlock: DrillLock | undefined): ActiveRun {
    let start!: () => void;
    const started = new Promise<void>((resolve) => (start = resolve));
    const run: ActiveRun = { drill, runId: newId(), trigger, state: 'queued', controller: new AbortController(), unlock, start, finished: Promise.resolve() };
    run.finished = started.then(() => (this.#stopping && run.state === 'queued' ? undefined : this.#execute(run)));
    this.#active.set(drill, run);
    this.#waiting.push(run);
    this.#logger.info({ drill, runId: run.runId, trigger: trigger.kind }, 'drill queued');
    this.#pump();
    return run;
  }

  /** Starts queued runs, oldest first, while fewer than `scheduler.concurrency` run. */
  #pump(): void {
    while (this.#waiting.length > 0 && this.runningCount() < this.#runner.scheduler.concurrency) {
      const next = this.#waiting.shift() as ActiveRun;
      next.state = 'running';
      next.start();
    }
  }

  async #execute(run: ActiveRun): Promise<void> {
    // The config at the time the run starts: a reload while it waited counts.
    const drill = this.#drills.find((candidate) => candidate.name === run.drill);
    try {
      if (!drill) {
        this.#logger.warn({ drill: run.drill, runId: run.runId }, 'run dropped: the drill is no longer configured');
        return;
      }
      const report = await runDrill(drill, {
        runner: this.#runner,
        logger: this.#logger,
        signal: run.controller.signal,
        reporters: [new JsonFileReporter(this.#runner.reportsDirectory)],
        runId: run.runId,
        trigger: run.trigger,
      });
      this.#logger[report.status === 'passed' ? 'info' : 'warn']({ drill: run.drill, runId: run.runId, status: report.status }, report.summary);
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
    return drill.timezone ?? this.#runner.scheduler.timezone ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
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
