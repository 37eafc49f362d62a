import { Duplex, Readable, type Writable } from 'node:stream';
import { spawnChild, type ChildProcessHandle, type SpawnOptions } from './child-process.ts';

/**
 * A child process as one stage of a `stream.pipeline`: bytes written go to
 * its stdin, its stdout is what the stage reads out. The stage ends only
 * after the child exited with status 0, and fails with the child's
 * ChildProcessError (exit status, stderr tail) otherwise, so a compressor
 * that dies mid-stream fails the whole pipeline instead of handing on a
 * short, well-formed-looking output. Destroying the stage kills the child.
 */
export function childStage(command: string, args: string[], options: Omit<SpawnOptions, 'stdin' | 'stdout'> = {}): Duplex {
  return new ChildProcessStage(spawnChild(command, args, { ...options, stdin: 'pipe', stdout: 'pipe', dieWithParent: true }));
}

class ChildProcessStage extends Duplex {
  readonly #child: ChildProcessHandle;
  #exitError: Error | undefined;

  constructor(child: ChildProcessHandle) {
    super();
    this.#child = child;
    child.succeeded.catch((error: Error) => {
      this.#exitError = error;
      this.destroy(error);
    });
    child.stdout.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) child.stdout.pause();
    });
    // The output is complete only when the child also says so with its exit status.
    child.stdout.once('end', () => {
      child.succeeded.then(
        () => this.push(null),
        () => undefined,
      );
    });
    child.stdout.once('error', (error) => this.destroy(error));
    // Writing to a child that already died is EPIPE; its exit status (and stderr) says why, so that error wins.
    child.stdin.on('error', (error) => {
      void child.succeeded.then(
        () => this.destroy(error),
        () => undefined,
      );
    });
  }

  override _read(): void {
    this.#child.stdout.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.#exitError) return callback(this.#exitError);
    if (this.#child.stdin.write(chunk)) callback();
    else this.#child.stdin.once('drain', () => callback());
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#child.stdin.end(() => callback());
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#child.stdin.destroy();
    void this.#child.kill().then(() => callback(this.#exitError ?? error));
  }
}

/** Whether a stream is a pipe of its own (a child's stdout) that another child can read directly. */
export function isPipeBacked(stream: Readable): boolean {
  const handle = (stream as Readable & { _handle?: { fd?: unknown } })._handle;
  return typeof handle?.fd === 'number' && handle.fd >= 0 && !stream.readableFlowing && stream.readableLength === 0;
}

/**
 * Child processes chained by operating-system pipes, `input | first | second`,
 * read at the end as one stream. Only the last child's output passes through
 * Node, which saves a core's worth of copying when the input is a gigabyte
 * of pg_dump output and the output a third of it. The stream ends only after
 * every child exited with status 0 (a compressor that died leaves its
 * successor a clean end of input, so each status counts), and fails with the
 * first failure; destroying it kills them all.
 */
export function processChain(input: Readable, commands: { command: string; args: string[] }[]): Readable {
  const children: ChildProcessHandle[] = [];
  let previous = input;
  for (const { command, args } of commands) {
    const child = spawnChild(command, args, { stdin: previous, stdout: 'pipe', dieWithParent: true });
    children.push(child);
    // The child holds its own copy of the pipe: Node's must not read from it.
    previous.destroy();
    previous = child.stdout;
  }
  return new ChainOutput(children);
}

class ChainOutput extends Readable {
  readonly #children: ChildProcessHandle[];
  readonly #last: ChildProcessHandle;
  #failure: Error | undefined;

  constructor(children: ChildProcessHandle[]) {
    super();
    this.#children = children;
    this.#last = children.at(-1) as ChildProcessHandle;
    const all = Promise.all(children.map((child) => child.succeeded));
    all.catch((error: Error) => {
      this.#failure ??= error;
      this.destroy(error);
    });
    this.#last.stdout.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) this.#last.stdout.pause();
    });
    this.#last.stdout.once('end', () => {
      all.then(
        () => this.push(null),
        () => undefined,
      );
    });
    this.#last.stdout.once('error', (error) => this.destroy(error));
  }

  override _read(): void {
    this.#last.stdout.resume();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    void Promise.all(this.#children.map((child) => child.kill())).then(() => callback(this.#failure ?? error));
  }
}

/** Children chained as `input | first | ... | last > fd`. */
export interface ChainToFile {
  /** Settles when every child has exited: status 0 for all, or the first failure. */
  finished: Promise<void>;
  /** Each child's own exit, in chain order, to tell which stage failed. */
  exits: Promise<void>[];
  /** The first child's stdin, when the input is `'pipe'`: Node feeds the chain there. */
  stdin: Writable | undefined;
  /** Kills every child that still runs; resolves when they have exited. */
  kill(): Promise<void>;
}

/**
 * Like processChain, but the last child writes straight into `fd` (a file
 * the caller opened): no byte of the output passes through Node at all. The
 * input is another process's pipe, which the first child reads directly, or
 * `'pipe'` for Node to write into (`stdin`).
 */
export function processChainToFile(
  input: Readable | 'pipe',
  commands: { command: string; args: string[] }[],
  fd: number,
  options: { signal?: AbortSignal } = {},
): ChainToFile {
  const children: ChildProcessHandle[] = [];
  let previous = input;
  commands.forEach(({ command, args }, index) => {
    const last = index === commands.length - 1;
    const child = spawnChild(command, args, { stdin: previous, stdout: last ? fd : 'pipe', signal: options.signal, dieWithParent: true });
    children.push(child);
    // The child holds its own copy of the pipe: Node's must not read from it.
    if (previous !== 'pipe') previous.destroy();
    previous = child.stdout;
  });
  const exits = children.map((child) => child.succeeded);
  const finished = Promise.all(exits).then(() => undefined);
  finished.catch(() => undefined);
  return {
    finished,
    exits,
    stdin: input === 'pipe' ? children[0]?.stdin : undefined,
    kill: async () => void (await Promise.all(children.map((child) => child.kill()))),
  };
}
