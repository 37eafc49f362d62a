/**
 * Child processes for the benchmark: shell-free pipelines whose every exit
 * status is checked, and the firedrill CLI with its memory followed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { open, readFile } from 'node:fs/promises';
import { processTicks } from './cpu.ts';

/** Every child the bench started and that still runs, so that a Ctrl-C can stop them. */
const running = new Set<ChildProcess>();

export function runningChildren(): ChildProcess[] {
  return [...running];
}

function track(child: ChildProcess, label: string): Promise<void> {
  running.add(child);
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-4000)));
  return new Promise((resolve, reject) => {
    child.once('error', (error) => {
      running.delete(child);
      reject(new Error(`${label} could not be started: ${error.message}`));
    });
    child.once('close', (code, signal) => {
      running.delete(child);
      if (code === 0) resolve();
      else reject(new Error(`${label} ${signal ? `was killed by ${signal}` : `exited with status ${code}`}${stderr.trim() ? `: ${stderr.trim()}` : ''}`));
    });
  });
}

export interface Stage {
  command: string;
  args: string[];
  env?: Record<string, string>;
}

/** The environment of a child: PATH and locale from ours, plus what it needs (libpq variables). */
function environment(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const keep = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR'];
  return { ...Object.fromEntries(keep.filter((key) => process.env[key] !== undefined).map((key) => [key, process.env[key]])), ...extra };
}

/**
 * `a | b | c > output`, as a shell would run it but without one: each stage's
 * stdout is the next one's stdin (an OS pipe; no byte passes through Node),
 * the last writes into `output`. Resolves with the seconds from the first
 * spawn until every stage exited, when every stage exited with status 0.
 */
export async function runPipeline(stages: Stage[], output: string): Promise<number> {
  const file = await open(output, 'w', 0o600);
  const started = performance.now();
  const exits: Promise<void>[] = [];
  try {
    let previous: ChildProcess | undefined;
    for (const [index, stage] of stages.entries()) {
      const last = index === stages.length - 1;
      const child: ChildProcess = spawn(stage.command, stage.args, {
        env: environment(stage.env),
        stdio: [previous?.stdout ?? 'ignore', last ? file.fd : 'pipe', 'pipe'],
        shell: false,
      });
      exits.push(track(child, stage.command.split('/').at(-1) ?? stage.command));
      // The pipe's read end now belongs to the next stage alone: were it also open here, a producer whose
      // consumer died would block on a full pipe instead of failing with EPIPE.
      previous?.stdout?.destroy();
      previous = child;
    }
    const results = await Promise.allSettled(exits);
    const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failed) throw failed.reason;
    return (performance.now() - started) / 1000;
  } finally {
    await file.close();
  }
}

/** One command, its exit status checked; its stdout kept. */
export async function run(stage: Stage): Promise<{ stdout: string; seconds: number }> {
  const started = performance.now();
  const child = spawn(stage.command, stage.args, { env: environment(stage.env), stdio: ['ignore', 'pipe', 'pipe'], shell: false });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  await track(child, stage.command.split('/').at(-1) ?? stage.command);
  return { stdout, seconds: (performance.now() - started) / 1000 };
}

export interface MemorySample {
  /** Date.now() when read: the same clock as the report's phase start times. */
  at: number;
  rssBytes: number;
  hwmBytes: number;
  /** The process's own CPU time so far (utime + stime, its children not included). */
  cpuSeconds: number;
}

export interface MeasuredRun {
  code: number | null;
  stdout: string;
  wallSeconds: number;
  samples: MemorySample[];
  /** The last VmHWM read: the process's peak RSS (see `followMemory`). */
  peakRssBytes: number;
}

/**
 * A process's memory, followed until it exits: /proc/<pid>/status every
 * `intervalMs`, VmRSS (resident now) and VmHWM (the kernel's high-water mark
 * of resident memory, which never goes down). The high-water mark misses
 * nothing between two reads; only growth in the last interval before the
 * exit (once the process has left /proc) can go unseen. Only this one
 * process: its children (pg_dump, pg_restore, zstd, age, a sandbox server)
 * have their own. Its own CPU time (utime + stime) is read with each sample.
 */
function followMemory(pid: number, intervalMs: number): { samples: MemorySample[]; stop: () => Promise<void> } {
  const samples: MemorySample[] = [];
  let stopped = false;
  const field = (status: string, name: string) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? Number.NaN) * 1024;
  const loop = (async () => {
    while (!stopped) {
      try {
        const [status, ticks] = await Promise.all([readFile(`/proc/${pid}/status`, 'utf8'), processTicks(pid)]);
        const rssBytes = field(status, 'VmRSS');
        const hwmBytes = field(status, 'VmHWM');
        // A zombie has no memory lines left.
        if (Number.isFinite(hwmBytes) && ticks) samples.push({ at: Date.now(), rssBytes, hwmBytes, cpuSeconds: ticks.ownTicks / 100 });
      } catch {
        // gone
      }
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  })();
  return {
    samples,
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}

/** The firedrill CLI (or any Node program), its stdout kept, its stderr passed on, its memory followed. */
export async function runMeasured(
  program: string,
  args: string[],
  options: { cwd: string; env: Record<string, string>; intervalMs?: number },
): Promise<MeasuredRun> {
  const started = performance.now();
  const child = spawn(process.execPath, [program, ...args], { cwd: options.cwd, env: environment(options.env), stdio: ['ignore', 'pipe', 'inherit'], shell: false });
  running.add(child);
  const memory = followMemory(child.pid ?? -1, options.intervalMs ?? 50);
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  const code = await new Promise<number | null>((resolve) => {
    child.once('error', () => resolve(null));
    child.once('close', (exitCode) => resolve(exitCode));
  });
  running.delete(child);
  await memory.stop();
  const { samples } = memory;
  return { code, stdout, wallSeconds: (performance.now() - started) / 1000, samples, peakRssBytes: Math.max(0, ...samples.map((sample) => sample.hwmBytes)) };
}
