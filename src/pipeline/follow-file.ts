import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { BackgroundSync } from './background-sync.ts';

/**
 * Size and SHA-256 of a file that another process is writing, computed
 * while it writes: read behind the writer, from the page cache, into one
 * reused buffer, so Node allocates nothing per piece and the garbage
 * collector has nothing to do. The file is synced in the background as it
 * grows (BackgroundSync), and fsynced once `finished` says the writer is done.
 * The writer must only append (a compressor or age writing its output).
 */

const BUFFER_BYTES = 1024 * 1024;
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
  const sync = new BackgroundSync(handle);
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
        sync.wrote(bytesRead);
        continue;
      }
      if (doneBefore) break;
      await Promise.race([finished.catch(() => undefined), sleep(POLL_MS)]);
    }
    // The writer may have failed after its last byte (an exit status): that fails the object too.
    const failure = writerFailure(writer);
    if (failure) throw failure;
    await sync.finish();
    return { sizeBytes: position, sha256: hash.digest('hex') };
  } finally {
    await sync.settle();
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/** Read through a function, so that no narrowing from before an await hides a failure that came meanwhile. */
function writerFailure(writer: { error?: Error }): Error | undefined {
  return writer.error;
}
