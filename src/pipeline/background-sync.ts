import type { FileHandle } from 'node:fs/promises';

/**
 * Gets a file that is being written to the disk while it is written.
 *
 * Writing a gigabyte into the page cache and fsyncing it at the end makes the
 * end wait for the whole gigabyte to reach the disk: the kernel starts
 * writeback on its own only past `dirty_background_ratio` (10% of memory by
 * default, gigabytes on a large machine). So every SYNC_EVERY_BYTES an
 * fdatasync runs in the background while writing goes on (at most one at a
 * time): the disk works while the dump still runs, the final fsync has only
 * the last stretch left, and a backup does not fill the page cache with dirty
 * pages that stall everything else on the machine when they are flushed
 * together. A background sync that failed (EIO, ENOSPC on writeback) fails
 * the file: it cannot be trusted.
 */

const SYNC_EVERY_BYTES = 64 * 1024 * 1024;

export class BackgroundSync {
  readonly #handle: FileHandle;
  #unsyncedBytes = 0;
  #syncing: Promise<void> | undefined;
  #error: Error | undefined;

  constructor(handle: FileHandle) {
    this.#handle = handle;
  }

  /** Counts bytes that reached the file; throws the failure of an earlier background sync. */
  wrote(bytes: number): void {
    this.#throwIfFailed();
    this.#unsyncedBytes += bytes;
    if (this.#unsyncedBytes < SYNC_EVERY_BYTES || this.#syncing !== undefined) return;
    this.#unsyncedBytes = 0;
    this.#syncing = this.#handle.datasync().then(
      () => (this.#syncing = undefined),
      (error: unknown) => {
        this.#error ??= error instanceof Error ? error : new Error(String(error));
        this.#syncing = undefined;
      },
    );
  }

  /** Everything written is on disk: waits for the sync in flight, then fsyncs. */
  async finish(): Promise<void> {
    await this.#syncing;
    this.#throwIfFailed();
    await this.#handle.sync();
  }

  /** Waits for a sync in flight, whatever its outcome: before the handle is closed on a failure path. */
  async settle(): Promise<void> {
    await this.#syncing;
  }

  #throwIfFailed(): void {
    if (this.#error !== undefined) throw this.#error;
  }
}
