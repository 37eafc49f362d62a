import { PassThrough, Transform, type Duplex, type Readable, type TransformCallback } from 'node:stream';
import { constants } from 'node:os';
import { pipeline } from 'node:stream/promises';
import type Dockerode from 'dockerode';
import { ChildProcessError } from '../pipeline/child-process.ts';
import { onAbort } from '../abort.ts';

/**
 * A program run inside a container (`docker exec`) with its output streamed,
 * never buffered: pg_dump's archive can be far larger than memory. It looks
 * like a child process to its callers: `stdout`, `succeeded` (which rejects
 * with a ChildProcessError carrying the exit status and the stderr tail), and
 * `kill`. Environment variables go into the exec's own environment, never
 * into its command line.
 */

export interface ContainerProcess {
  readonly stdout: Readable;
  readonly succeeded: Promise<void>;
  /** Stops waiting and releases the stream; the program itself ends with its container, which its owner removes. */
  kill(): Promise<void>;
}

const STDERR_TAIL_BYTES = 16 * 1024;
const signalNames = new Map(Object.entries(constants.signals).map(([name, number]) => [number, name as NodeJS.Signals]));

export function execInContainer(
  container: Dockerode.Container,
  command: string[],
  options: { label: string; env?: Record<string, string>; stdin?: Readable; signal?: AbortSignal },
): ContainerProcess {
  const label = options.label;
  const stdout = new PassThrough();
  let stderr = '';
  const demultiplexer = new Demultiplexer((chunk) => (stderr = (stderr + chunk.toString('utf8')).slice(-STDERR_TAIL_BYTES)));
  let stream: Duplex | undefined;
  let killed = false;

  const run = async (): Promise<void> => {
    // A kill before the program runs keeps it from running at all (a pg_dump would hold locks on the source).
    const stopIfKilled = () => {
      if (killed) throw new ChildProcessError(label, null, 'SIGKILL', stderr);
    };
    stopIfKilled();
    const exec = await container.exec({
      Cmd: command,
      Env: Object.entries(options.env ?? {}).map(([name, value]) => `${name}=${value}`),
      AttachStdin: options.stdin !== undefined,
      AttachStdout: true,
      AttachStderr: true,
      Tty: false,
    });
    stopIfKilled();
    stream = await exec.start({ hijack: true, stdin: options.stdin !== undefined });
    if (killed) stream.destroy();
    // Our own demultiplexer, not docker-modem's: that one ignores backpressure and would hold a dump in memory.
    const output = pipeline(stream, demultiplexer, stdout, { end: false });
    // Closing our end of stdin (a half-close) is what tells the program its input is complete.
    const input = options.stdin ? pipeline(options.stdin, stream) : Promise.resolve();
    const [fed, read] = await Promise.allSettled([input, output]);
    // A stream destroyed by kill() ends prematurely: that is the kill, not a failure of its own.
    stopIfKilled();
    if (read.status === 'rejected') throw read.reason;
    const exitCode = await exitCodeOf(exec);
    stopIfKilled();
    if (exitCode === undefined) throw new Error(`${label}: the Docker engine reported no exit status for it`);
    // docker exec reports a program killed by a signal (the OOM killer's SIGKILL) as 128 + the signal's number.
    const signalName = exitCode > 128 ? signalNames.get(exitCode - 128) : undefined;
    if (signalName) throw new ChildProcessError(label, null, signalName, stderr);
    if (exitCode !== 0) throw new ChildProcessError(label, exitCode, null, stderr);
    // A program that exits early breaks its input pipe: its own status and stderr above say more than EPIPE.
    if (fed.status === 'rejected') throw fed.reason;
  };

  const succeeded = run().finally(() => stdout.end());
  succeeded.catch(() => undefined);
  const kill = async (): Promise<void> => {
    killed = true;
    stream?.destroy();
    await succeeded.catch(() => undefined);
  };
  const stopOnAbort = onAbort(options.signal, () => void kill());
  void succeeded.finally(stopOnAbort).catch(() => undefined);
  return { stdout, succeeded, kill };
}

/** The exit code, once the engine has recorded it (it may lag the end of the stream by a moment). */
async function exitCodeOf(exec: Dockerode.Exec): Promise<number | undefined> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const info = await exec.inspect();
    if (!info.Running && info.ExitCode !== null) return info.ExitCode;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return undefined;
}

/**
 * Docker's multiplexed exec stream: frames of an 8-byte header (stream type:
 * 1 stdout, 2 stderr; then a big-endian length) and a payload. Stdout
 * payloads are passed on with backpressure; stderr goes to `onStderr`.
 */
export class Demultiplexer extends Transform {
  #pending = Buffer.alloc(0);
  readonly #onStderr: (chunk: Buffer) => void;

  constructor(onStderr: (chunk: Buffer) => void) {
    super();
    this.#onStderr = onStderr;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const buffer = this.#pending.length > 0 ? Buffer.concat([this.#pending, chunk]) : chunk;
    // 1: stdout. 2: stderr. 3: the engine's own errors (e.g. "executable file not found"), read like stderr.
    const rest = readFrames(buffer, (type, payload) => (type === 1 ? this.push(payload) : this.#onStderr(payload)));
    // Only an incomplete frame is kept: at most one header plus part of one payload.
    this.#pending = Buffer.from(rest);
    callback();
  }

  override _flush(callback: TransformCallback): void {
    callback(this.#pending.length > 0 ? new Error(`the exec stream ended inside a frame (${this.#pending.length} bytes left)`) : null);
  }
}

/** Both streams of a whole multiplexed buffer (a container's log), in order. */
export function demultiplex(buffer: Buffer): Buffer {
  const parts: Buffer[] = [];
  readFrames(buffer, (_type, payload) => parts.push(payload));
  return Buffer.concat(parts);
}

/** Calls `onFrame` for each complete frame; returns what is left of an incomplete last one. */
function readFrames(buffer: Buffer, onFrame: (type: number, payload: Buffer) => unknown): Buffer {
  let rest = buffer;
  while (rest.length >= 8) {
    const size = rest.readUInt32BE(4);
    if (rest.length < 8 + size) break;
    const type = rest[0] as number;
    if (type >= 1 && type <= 3) onFrame(type, rest.subarray(8, 8 + size));
    rest = rest.subarray(8 + size);
  }
  return rest;
}
