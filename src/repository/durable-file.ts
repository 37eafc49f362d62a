import { open, type FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { BackgroundSync } from '../pipeline/background-sync.ts';

/**
 * A file that is on disk when the stream finishes: the local repository's
 * object writer, synced in the background as it grows (BackgroundSync).
 * Chunks are gathered (`writev`) up to the stream's buffer, so a pipe's
 * 64 KiB pieces become a few large writes rather than a system call each.
 */
const WRITE_BUFFER_BYTES = 4 * 1024 * 1024;

export class DurableFileWriter extends Writable {
  readonly #path: string;
  readonly #mode: number;
  #handle: FileHandle | undefined;
  #sync: BackgroundSync | undefined;

  /** Creates `path` exclusively (an existing file is an error: nothing is overwritten). */
  constructor(path: string, options: { mode?: number } = {}) {
    super({ highWaterMark: WRITE_BUFFER_BYTES });
    this.#path = path;
    this.#mode = options.mode ?? 0o600;
  }

  get path(): string {
    return this.#path;
  }

  override _construct(callback: (error?: Error | null) => void): void {
    open(this.#path, 'wx', this.#mode).then(
      (handle) => {
        this.#handle = handle;
        this.#sync = new BackgroundSync(handle);
        callback();
      },
      (error: unknown) => callback(error as Error),
    );
  }

  override _writev(chunks: { chunk: Buffer }[], callback: (error?: Error | null) => void): void {
    this.#write(chunks.map((entry) => entry.chunk)).then(() => callback(), (error: unknown) => callback(error as Error));
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#finish().then(() => callback(), (error: unknown) => callback(error as Error));
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const handle = this.#handle;
    this.#handle = undefined;
    // A sync in flight still uses the handle: let it end (its error no longer matters), then close.
    Promise.resolve(this.#sync?.settle())
      .catch(() => undefined)
      .then(() => handle?.close())
      .then(
        () => callback(error),
        (closeError: unknown) => callback(error ?? (closeError as Error)),
      );
  }

  async #write(buffers: Buffer[]): Promise<void> {
    const handle = this.#openHandle();
    let total = buffers.reduce((sum, buffer) => sum + buffer.length, 0);
    let pending = buffers;
    // writev may write less than asked (a signal, a full disk's last bytes): go on from where it stopped.
    while (total > 0) {
      const { bytesWritten } = await handle.writev(pending);
      if (bytesWritten === 0) throw new Error(`writing ${this.#path} made no progress`);
      total -= bytesWritten;
      pending = skipBytes(pending, bytesWritten);
      this.#sync?.wrote(bytesWritten);
    }
  }

  async #finish(): Promise<void> {
    const handle = this.#openHandle();
    await this.#sync?.finish();
    this.#handle = undefined;
    await handle.close();
  }

  #openHandle(): FileHandle {
    if (!this.#handle) throw new Error(`${this.#path} is not open`);
    return this.#handle;
  }
}

function skipBytes(buffers: Buffer[], count: number): Buffer[] {
  const rest: Buffer[] = [];
  let skip = count;
  for (const buffer of buffers) {
    if (skip >= buffer.length) {
      skip -= buffer.length;
      continue;
    }
    rest.push(skip > 0 ? buffer.subarray(skip) : buffer);
    skip = 0;
  }
  return rest;
}
