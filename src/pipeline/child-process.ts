import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import type { Releasers } from '../drill/releasers.ts';
import { onAbort } from '../abort.ts';

/**
 * Child processes, the way firedrill needs them: an argument array (never a
 * shell), an environment built for the child alone, the exit status always
 * checked, the tail of stderr kept for the error message, and a kill that
 * runs on abort and as a releaser, so no child outlives its run.
 */

export interface SpawnOptions {
  /** Added to the child's environment. Secrets go here, never into `args`. */
  env?: Record<string, string>;
  cwd?: string;
  /** Run as another user (firedrill as root starts PostgreSQL as an unprivileged one). */
  uid?: number;
  gid?: number;
  /** A Readable backed by a pipe (another child's stdout) becomes this child's stdin directly: the bytes never pass through Node. */
  stdin?: 'ignore' | 'pipe' | Readable;
  stdout?: 'ignore' | 'pipe' | number;
  /** Where stderr goes; by default it is kept (last 16 KiB) for messages. */
  stderr?: 'pipe' | number;
  signal?: AbortSignal;
  /** Registers a kill for the child while it runs. */
  releasers?: Releasers;
  /**
   * Runs the child in a process group of its own, and kills the whole group:
   * for commands from a drill file, which may start children of their own
   * (a shell's pipeline) that must not outlive the check. Whatever is left of
   * the group when the child exits is killed too.
   */
  ownProcessGroup?: boolean;
  /**
   * The child is killed (SIGKILL) by the kernel when firedrill dies, however it
   * dies: for work that must not go on alone after a SIGKILL or an OOM kill of
   * firedrill (pg_dump | zstd | age writing straight into a backup file would
   * otherwise finish the whole dump, holding locks on the source and filling
   * the repository for a backup no manifest will name). Linux's
   * PR_SET_PDEATHSIG, set by util-linux's setpriv before it execs the command;
   * where there is no setpriv the child is spawned as it is, and the kills of
   * abort and releasers still apply.
   */
  dieWithParent?: boolean;
}

export interface ChildProcessHandle {
  readonly label: string;
  readonly process: ChildProcess;
  readonly stdout: Readable;
  readonly stdin: Writable;
  /** Resolves when the child exited with status 0; rejects with ChildProcessError otherwise. */
  readonly succeeded: Promise<void>;
  /** The last lines the child wrote to stderr. */
  stderrTail(): string;
  /** SIGTERM, then SIGKILL if it has not exited within the grace period. Resolves when it has exited. */
  kill(graceMs?: number): Promise<void>;
}

export class ChildProcessError extends Error {
  readonly exitCode: number | null;
  readonly exitSignal: NodeJS.Signals | null;
  readonly stderr: string;

  constructor(label: string, exitCode: number | null, exitSignal: NodeJS.Signals | null, stderr: string, options?: { cause?: unknown }) {
    const how = exitSignal ? `was killed by ${exitSignal}` : exitCode === null ? 'could not be started' : `exited with status ${exitCode}`;
    const detail = stderr.trim() ? `: ${lastLines(stderr, 8)}` : '';
    super(`${label} ${how}${detail}`, options);
    this.name = 'ChildProcessError';
    this.exitCode = exitCode;
    this.exitSignal = exitSignal;
    this.stderr = stderr;
  }
}

const STDERR_TAIL_BYTES = 16 * 1024;
const DEFAULT_KILL_GRACE_MS = 5_000;

/**
 * Only these of firedrill's own variables reach a child. firedrill's
 * environment may hold the secrets of every drill (`{ env: NAME }`), and a
 * child (a sandbox server running code from a restored database) must see none
 * of them: it gets this short list plus exactly what the caller passes.
 */
const INHERITED_VARIABLE = /^(PATH|HOME|USER|LOGNAME|LANG|LANGUAGE|LC_[A-Z_]+|TZ|TMPDIR)$/;

export function childEnvironment(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (INHERITED_VARIABLE.test(key)) base[key] = value;
  }
  return { ...base, ...extra };
}

export function spawnChild(command: string, args: string[], options: SpawnOptions = {}): ChildProcessHandle {
  const label = command.split('/').at(-1) ?? command;
  const stderrMode = options.stderr ?? 'pipe';
  // setpriv execs the command in its own process: the pid, the exit status and the signals are the command's.
  const setpriv = options.dieWithParent ? pdeathsigLauncher() : undefined;
  const [program, programArgs] = setpriv ? [setpriv, ['--pdeathsig', 'KILL', '--', command, ...args]] : [command, args];
  const child = spawn(program, programArgs, {
    cwd: options.cwd,
    env: childEnvironment(options.env),
    uid: options.uid,
    gid: options.gid,
    stdio: [options.stdin ?? 'ignore', options.stdout ?? 'pipe', stderrMode],
    shell: false,
    detached: options.ownProcessGroup ?? false,
  });
  const signalChild = (signal: NodeJS.Signals) => {
    if (!options.ownProcessGroup || child.pid === undefined) return void child.kill(signal);
    try {
      process.kill(-child.pid, signal);
    } catch {
      // the group is already gone
    }
  };

  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-STDERR_TAIL_BYTES);
  });

  // The direct child is gone: whatever it left in its group (a backgrounded process, which may hold its pipes open) goes too.
  if (options.ownProcessGroup) child.once('exit', () => signalChild('SIGKILL'));

  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; spawnError?: Error }>((resolve) => {
    child.once('error', (spawnError) => resolve({ code: null, signal: null, spawnError }));
    // 'close' (not 'exit') so that stderr has been read to its end.
    child.once('close', (code, signal) => resolve({ code, signal }));
  });

  const registration = options.releasers?.add(`${label} (pid ${child.pid ?? '?'})`, () => kill());
  // Also when the signal fired before the spawn: the child is then stopped at once.
  const stopWatching = onAbort(options.signal, () => void kill());

  const succeeded = exited.then(({ code, signal, spawnError }) => {
    registration?.forget();
    stopWatching();
    if (spawnError) {
      const reason = (spawnError as NodeJS.ErrnoException).code === 'ENOENT' ? `${command} not found` : spawnError.message;
      throw new ChildProcessError(label, null, null, reason, { cause: spawnError });
    }
    // Through setpriv, a command that cannot be run is setpriv's exit status 127: said as a direct spawn would say it.
    if (setpriv && code === 127 && stderr.includes('setpriv: failed to execute')) {
      throw new ChildProcessError(label, null, null, /No such file/.test(stderr) ? `${command} not found` : stderr.trim());
    }
    if (code !== 0) throw new ChildProcessError(label, code, signal, stderr);
  });
  // Callers may only await `succeeded` after other work; an early failure must not be an unhandled rejection.
  succeeded.catch(() => undefined);

  async function kill(graceMs = DEFAULT_KILL_GRACE_MS): Promise<void> {
    if (child.pid === undefined) return;
    if (child.exitCode !== null || child.signalCode !== null) {
      // Exited, but its group may live on (and hold its pipes): those go without a grace period.
      if (options.ownProcessGroup) signalChild('SIGKILL');
      return;
    }
    signalChild('SIGTERM');
    const timer = setTimeout(() => signalChild('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }

  return {
    label,
    process: child,
    stdout: child.stdout as Readable,
    stdin: child.stdin as Writable,
    succeeded,
    stderrTail: () => stderr,
    kill,
  };
}

let launcher: string | null | undefined;

/** The path of a setpriv that knows --pdeathsig, or undefined (not Linux, no util-linux); looked up once. */
function pdeathsigLauncher(): string | undefined {
  if (launcher === undefined) {
    launcher = null;
    if (process.platform === 'linux') {
      for (const directory of (process.env.PATH ?? '').split(':').filter(Boolean)) {
        const candidate = `${directory}/setpriv`;
        const help = spawnSync(candidate, ['--help'], { encoding: 'utf8', timeout: 5_000 });
        if (help.status === 0 && help.stdout.includes('--pdeathsig')) {
          launcher = candidate;
          break;
        }
      }
    }
  }
  return launcher ?? undefined;
}

/** Runs a command to completion and returns its stdout (for short outputs like `--version`). */
export async function runToCompletion(command: string, args: string[], options: Omit<SpawnOptions, 'stdout'> = {}): Promise<string> {
  const handle = spawnChild(command, args, { ...options, stdout: 'pipe' });
  let output = '';
  handle.stdout.setEncoding('utf8');
  handle.stdout.on('data', (chunk: string) => {
    output += chunk;
  });
  await handle.succeeded;
  return output;
}

function lastLines(text: string, count: number): string {
  return text.trim().split('\n').slice(-count).join('\n');
}
