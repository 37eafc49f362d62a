import { Duplex } from 'node:stream';
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
  return new ChildProcessStage(spawnChild(command, args, { ...options, stdin: 'pipe', stdout: 'pipe' }));
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
