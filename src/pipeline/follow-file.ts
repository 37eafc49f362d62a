import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Size and SHA-256 of a file that another process is writing, computed
 * while it writes: read behind the writer, from the page cache, into one
 * reused buffer, so Node allocates nothing per piece and the garbage
 * collector has nothing to do. Every SYNC_EVERY_BYTES the file is
 * fdatasynced in the background, so the disk works while the writer still
 * runs and the final fsync (after `finished`) has only the last stretch left.
 * The writer must only append (a compressor or age writing its output).
 */

const BUFFER_BYTES = 1024 * 1024;
const SYNC_EVERY_BYTES = 64 * 1024 * 1024;
/** How long to wait for more when the reader has caught up with the writer. */
const POLL_MS = 10;

export async function followWrittenFile(handle: FileHandle, finished: Promise<void>, signal: AbortSignal): Promise<{ sizeBytes: number; sha256: string }> {
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(BUFFER_BYTES);
  let position = 0;
  // Set by the writer's end, which the loop below only ever sees between two awaits.
  const writer: { done: boolean; error?: Error } = { done: false };
  finished.then(
    () => (writer.done = true),
    (error: unknown) => {
      writer.done = true;
      writer.error = asError(error);
    },
  );
  let syncedUpTo = 0;
  let syncing: Promise<void> | undefined;
  let syncError: Error | undefined;
  try {
    for (;;) {
      signal.throwIfAborted();
      if (writer.error) throw writer.error;
      // Whether the writer was done is read before the read: a read of 0 bytes after it was done is the true end.
      const doneBefore = writer.done;
      const { bytesRead } = await handle.read(buffer, 0, BUFFER_BYTES, position);
      if (bytesRead > 0) {
        hash.update(buffer.subarray(0, bytesRead));
        position += bytesRead;
        if (position - syncedUpTo >= SYNC_EVERY_BYTES && syncing === undefined) {
          syncedUpTo = position;
          syncing = handle.datasync().then(
            () => (syncing = undefined),
            (error: unknown) => {
              syncError ??= asError(error);
              syncing = undefined;
            },
          );
        }
        if (syncError !== undefined) throw syncError;
        continue;
      }
      if (doneBefore) break;
      await Promise.race([finished.catch(() => undefined), sleep(POLL_MS)]);
    }
    // The writer may have failed after its last byte (an exit status): that fails the object too.
    const failure = writerFailure(writer);
    if (failure) throw failure;
    await syncing;
    if (syncError !== undefined) throw syncError;
    await handle.sync();
    return { sizeBytes: position, sha256: hash.digest('hex') };
  } finally {
    await syncing?.catch(() => undefined);
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/** Read through a function, so that no narrowing from before an await hides a failure that came meanwhile. */
function writerFailure(writer: { error?: Error }): Error | undefined {
  return writer.error;
}
