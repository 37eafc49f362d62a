import { open, type FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';

/**
 * A file that is on disk when the stream finishes: the local repository's
 * object writer.
 *
 * Writing a gigabyte into the page cache and fsyncing it at the end makes the
 * end wait for the whole gigabyte to reach the disk: the kernel starts
 * writeback on its own only past `dirty_background_ratio` (10% of memory by
 * default, gigabytes on a large machine). So every `SYNC_EVERY_BYTES` an
 * fdatasync runs in the background while writing goes on: the disk works
 * while the dump still runs, the final fsync has only the last stretch left,
 * and a backup does not fill the page cache with dirty pages that stall
 * everything else on the machine when they are flushed together.
 *
 * Chunks are gathered (`writev`) up to the stream's buffer, so a pipe's
 * 64 KiB pieces become a few large writes rather than a system call each.
 */
const SYNC_EVERY_BYTES = 64 * 1024 * 1024;
const WRITE_BUFFER_BYTES = 4 * 1024 * 1024;

export class DurableFileWriter extends Writable {
  readonly #path: string;
  readonly #mode: number;
  #handle: FileHandle | undefined;
  #unsyncedBytes = 0;
  /** The background fdatasync in flight, if any; at most one at a time. */
  #syncing: Promise<void> | undefined;
  #syncError: Error | undefined;

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
    Promise.resolve(this.#syncing)
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
      this.#unsyncedBytes += bytesWritten;
      pending = skipBytes(pending, bytesWritten);
    }
    this.#throwSyncError();
    if (this.#unsyncedBytes >= SYNC_EVERY_BYTES && this.#syncing === undefined) {
      this.#unsyncedBytes = 0;
      this.#syncing = handle.datasync().then(
        () => (this.#syncing = undefined),
        (error: unknown) => {
          this.#syncError ??= error instanceof Error ? error : new Error(String(error));
          this.#syncing = undefined;
        },
      );
    }
  }

  async #finish(): Promise<void> {
    const handle = this.#openHandle();
    await this.#syncing;
    this.#throwSyncError();
    await handle.sync();
    this.#handle = undefined;
    await handle.close();
  }

  #openHandle(): FileHandle {
    if (!this.#handle) throw new Error(`${this.#path} is not open`);
    return this.#handle;
  }

  /** A background sync that failed (EIO, ENOSPC on writeback) fails the write: the file cannot be trusted. */
  #throwSyncError(): void {
    if (this.#syncError !== undefined) throw this.#syncError;
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
