import { createHash } from 'node:crypto';
import { constants, createReadStream, type Stats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import tar, { type Header, type Pack } from 'tar-stream';
import type { ObjectSink, RunContext } from '../../interfaces.ts';
import type { TargetRecord } from '../../repository/manifest.ts';
import { AbortedError, BackupError, FiredrillError, SandboxError, errorMessage, isOutOfSpace } from '../../errors.ts';
import { createWorkDirectory } from '../../pipeline/work-directory.ts';
import { readOrSkip, walkFiles, type WalkEntry, type WalkWarning } from './file-walk.ts';
import { serializeIndexEntry, type FileIndexEntry } from './file-index.ts';
import type { FilesMetadata, FilesTarget } from './files-engine.ts';
import { drained } from '../../pipeline/drained.ts';

/**
 * A files target, streamed as one tar archive through the repository's
 * pipeline, and its index (path, size, mode, mtime, SHA-256 per file),
 * computed while the archive streams, not in a second pass. Each file is
 * read in pieces of READ_CHUNK_BYTES: memory stays flat whatever its size.
 *
 * A file that changes while it is read is still archived (a tar header
 * promises a size, so one that shrank is padded with zeros) and reported as
 * a warning: its content in the backup may mix before and after.
 */

const READ_CHUNK_BYTES = 1024 * 1024;
/** Warnings the manifest keeps word for word; beyond that, only their number (a tree of a million sockets). */
const WARNINGS_KEPT = 100;
/** The index is written in batches of about this many bytes. */
const INDEX_BATCH_BYTES = 256 * 1024;

export async function backupFiles(context: RunContext, targetName: string, target: FilesTarget, sink: ObjectSink): Promise<TargetRecord> {
  const snapshotAt = new Date();
  const work = await createWorkDirectory('files-index');
  const releaseWork = context.releasers.add(`file index work directory ${work.path}`, () => work.release());
  let closeIndex: (() => Promise<void>) | undefined;
  try {
    const indexPath = `${work.path}/index.jsonl`;
    const index = await IndexWriter.create(indexPath);
    const indexRegistration = context.releasers.add(`file index ${indexPath}`, () => index.close());
    closeIndex = () => indexRegistration.release();
    const warnings: WalkWarning[] = [];
    let warningCount = 0;
    const warn = (warning: WalkWarning) => {
      warningCount++;
      if (warnings.length < WARNINGS_KEPT) warnings.push(warning);
      context.logger.warn({ target: targetName, path: warning.path }, warning.problem);
    };
    const totals = { files: 0, directories: 0, symlinks: 0, bytes: 0 };

    const pack = tar.pack();
    const producing = (async () => {
      try {
        const entries = walkFiles({ ...target, onWarning: warn, signal: context.signal });
        for await (const entry of entries) {
          const recorded = await addEntry(pack, entry, target.onUnreadable, warn, context.signal);
          if (!recorded) continue;
          await index.write(recorded);
          if (recorded.type === 'file') {
            totals.files++;
            totals.bytes += recorded.size;
          } else if (recorded.type === 'directory') {
            totals.directories++;
          } else {
            totals.symlinks++;
          }
        }
        pack.finalize();
      } catch (error) {
        pack.destroy(error as Error);
        throw error;
      }
    })();
    // A sink that fails before it reads anything (an encoder that cannot start) must still stop the walk, which waits for it.
    const storing = sink.write(`${targetName}.tar`, Readable.from(pack)).catch((error: unknown) => {
      pack.destroy(error as Error);
      throw error;
    });
    const [produced, stored] = await Promise.allSettled([producing, storing]);
    // The walk's own error (a file that cannot be read) explains why storing stopped, not the other way round.
    if (produced.status === 'rejected') throw describe(produced.reason, context, target, work.path);
    if (stored.status === 'rejected') throw stored.reason;
    await index.close().catch((error: unknown) => {
      throw describe(error, context, target, work.path);
    });
    const storedIndex = await sink.write(`${targetName}.files.jsonl`, createReadStream(indexPath));

    const metadata: FilesMetadata = {
      paths: target.paths,
      archive: stored.value.name,
      index: storedIndex.name,
      fileCount: totals.files,
      directoryCount: totals.directories,
      symlinkCount: totals.symlinks,
      totalBytes: totals.bytes,
      warningCount,
      warnings,
    };
    context.logger.info({ target: targetName, files: totals.files, bytes: totals.bytes, warnings: warningCount }, 'files backed up');
    return { name: targetName, engine: 'files', snapshotAt: snapshotAt.toISOString(), snapshotAtLocal: snapshotAt.toISOString(), metadata };
  } finally {
    await closeIndex?.();
    await releaseWork.release();
  }
}

function describe(error: unknown, context: RunContext, target: FilesTarget, workPath: string): unknown {
  if (context.signal.aborted) return new AbortedError(undefined, { cause: error });
  if (error instanceof FiredrillError) return error;
  // The only thing the walk itself writes is the index, in TMPDIR: a full disk there is this machine's, not the repository's.
  if (isOutOfSpace(error)) {
    return new SandboxError(
      `backing up ${target.paths.join(', ')} failed: ${errorMessage(error)} writing the file index in ${workPath}. ` +
        'TMPDIR is full: firedrill keeps the index of every file there while it archives (about 200 bytes a file). ' +
        'Free space there, or point TMPDIR at a larger filesystem',
      { cause: error },
    );
  }
  return new BackupError(`backing up ${target.paths.join(', ')} failed: ${errorMessage(error)}`, { cause: error });
}

/** Adds one entry to the archive; returns what the index records of it, or nothing when it was skipped. */
async function addEntry(
  pack: Pack,
  entry: WalkEntry,
  onUnreadable: FilesTarget['onUnreadable'],
  warn: (warning: WalkWarning) => void,
  signal: AbortSignal,
): Promise<FileIndexEntry | undefined> {
  const common = { path: entry.archivePath, mode: entry.stats.mode & 0o7777, mtime: entry.stats.mtime.toISOString() };
  if (entry.type === 'directory') {
    await addHeader(pack, { name: entry.archivePath, type: 'directory', mode: common.mode, mtime: entry.stats.mtime });
    return { ...common, type: 'directory' };
  }
  if (entry.type === 'symlink') {
    await addHeader(pack, { name: entry.archivePath, type: 'symlink', linkname: entry.target, mode: common.mode, mtime: entry.stats.mtime });
    return { ...common, type: 'symlink', target: entry.target };
  }
  // O_NOFOLLOW: a file swapped for a link since it was listed is not read through the link.
  const handle = await readOrSkip(open(entry.readPath, constants.O_RDONLY | constants.O_NOFOLLOW), entry.absolutePath, { onUnreadable, onWarning: warn });
  if (!handle) return undefined;
  try {
    const before = await handle.stat();
    const { size, sha256 } = await addFileContent(pack, handle, entry, before, warn, signal);
    return { ...common, mode: before.mode & 0o7777, mtime: before.mtime.toISOString(), type: 'file', size, sha256 };
  } finally {
    await handle.close();
  }
}

async function addFileContent(
  pack: Pack,
  handle: FileHandle,
  entry: WalkEntry,
  before: Stats,
  warn: (warning: WalkWarning) => void,
  signal: AbortSignal,
): Promise<{ size: number; sha256: string }> {
  const size = before.size;
  const hash = createHash('sha256');
  let finished: () => void = () => undefined;
  let failed: (error: Error) => void = () => undefined;
  const added = new Promise<void>((resolve, reject) => {
    finished = resolve;
    failed = reject;
  });
  // The archive may fail this entry while a read or a wait is still pending: that error is the one thrown below, not an unhandled one.
  added.catch(() => undefined);
  const stream = pack.entry({ name: entry.archivePath, type: 'file', size, mode: before.mode & 0o7777, mtime: before.mtime }, (error) =>
    error ? failed(error) : finished(),
  );
  let position = 0;
  let shrank = false;
  try {
  while (position < size) {
    const length = Math.min(READ_CHUNK_BYTES, size - position);
    // A fresh buffer each time: the archive keeps a reference to a chunk until it is consumed.
    const { bytesRead, buffer } = await handle.read(Buffer.allocUnsafe(length), 0, length, position);
    let chunk = buffer.subarray(0, bytesRead);
    if (bytesRead === 0) {
      // The header promised `size` bytes: pad the rest, and say the content is not what the file holds.
      shrank = true;
      chunk = Buffer.alloc(length);
    }
    hash.update(chunk);
    position += chunk.length;
    if (!stream.write(chunk)) await drained(stream, signal, { alsoClosing: [pack], closedMessage: 'the archive was closed while a file was being added' });
  }
  } catch (error) {
    stream.destroy(error as Error);
    throw error;
  }
  stream.end(undefined);
  await added;
  const after = await handle.stat();
  if (shrank) {
    warn({ path: entry.absolutePath, problem: `shrank while it was read (from ${size} bytes): archived padded with zeros; its content in this backup is not usable` });
  } else if (after.size !== before.size || after.mtimeMs !== before.mtimeMs) {
    warn({ path: entry.absolutePath, problem: 'changed while it was read: its content in this backup may mix the old and the new' });
  }
  return { size, sha256: hash.digest('hex') };
}


function addHeader(pack: Pack, header: Partial<Header> & Pick<Header, 'name'>): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    pack.entry(header, (error) => (error ? reject(error) : resolve()));
  });
}

/** Index lines, gathered into batches: one write per few thousand entries. */
class IndexWriter {
  readonly #handle: FileHandle;
  #pending: string[] = [];
  #pendingBytes = 0;
  #closed = false;

  private constructor(handle: FileHandle) {
    this.#handle = handle;
  }

  static async create(path: string): Promise<IndexWriter> {
    return new IndexWriter(await open(path, 'wx', 0o600));
  }

  async write(entry: FileIndexEntry): Promise<void> {
    const line = serializeIndexEntry(entry);
    this.#pending.push(line);
    this.#pendingBytes += line.length;
    if (this.#pendingBytes >= INDEX_BATCH_BYTES) await this.#flush();
  }

  /** Writes what is pending and closes the file. Idempotent: also the releaser of a backup that failed. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#flush();
    } finally {
      await this.#handle.close();
    }
  }

  async #flush(): Promise<void> {
    if (this.#pending.length === 0) return;
    const text = this.#pending.join('');
    this.#pending = [];
    this.#pendingBytes = 0;
    await this.#handle.writeFile(text, 'utf8');
  }
}
