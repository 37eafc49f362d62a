import { constants, createReadStream } from 'node:fs';
import { lstat, mkdir, open, symlink, utimes, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import tar, { type Extract } from 'tar-stream';
import { IntegrityError, RestoreError, SandboxError, errorMessage } from '../../errors.ts';

/**
 * Unpacks a files target's tar archive into an empty directory, refusing
 * anything that could write outside it: absolute names, `..` components,
 * and any entry below a symbolic link (firedrill's own archives store a link
 * as a link and the files under their real path, so an entry below a link
 * is a crafted archive writing through it). Entries are checked before
 * anything is written for them, and files are created exclusively without
 * following links, so a refused archive has written nothing outside the
 * directory. Hard links, devices and FIFOs are refused too: firedrill never
 * archives them. Ownership is not restored (the restore runs unprivileged);
 * set-uid and set-gid bits are dropped.
 */

export interface ExtractResult {
  files: number;
  directories: number;
  symlinks: number;
  bytes: number;
}

export class UnsafeArchiveError extends IntegrityError {}

export async function extractArchive(archivePath: string, directory: string, what: string, signal: AbortSignal): Promise<ExtractResult> {
  const state: ExtractState = { directory, what, signal, result: { files: 0, directories: 0, symlinks: 0, bytes: 0 }, links: new Set(), directoryTimes: [] };
  const extract = tar.extract();
  const unpacking = (async () => {
    try {
      for await (const entry of extract) await unpackEntry(entry, state).catch((error: unknown) => {
        throw explainUnpackFailure(error, entry.header.name, state);
      });
    } catch (error) {
      // Stops reading the archive at once: nothing after a refused entry is unpacked.
      extract.destroy(error as Error);
      throw error;
    }
  })();
  const [unpacked, read] = await Promise.allSettled([unpacking, pipeline(createReadStream(archivePath), extract, { signal })]);
  // The entry's own verdict first: the read only reports that the extractor was stopped.
  if (unpacked.status === 'rejected') throw unpacked.reason;
  if (read.status === 'rejected') throw read.reason;
  // Last, deepest first: writing into a directory would have changed its time again.
  for (const { path, mtime } of state.directoryTimes.reverse()) await utimes(path, mtime, mtime).catch(() => undefined);
  return state.result;
}

interface ExtractState {
  directory: string;
  what: string;
  signal: AbortSignal;
  result: ExtractResult;
  /** Paths this extraction created as links: nothing may be written below them. */
  links: Set<string>;
  directoryTimes: { path: string; mtime: Date }[];
}

/** One entry of an archive being read, with its header. */
type ArchiveEntry = Extract extends AsyncIterable<infer Entry> ? Entry : never;

async function unpackEntry(entry: ArchiveEntry, state: ExtractState): Promise<void> {
  state.signal.throwIfAborted();
  const { header } = entry;
  const { directory, what, result } = state;
  const parts = checkName(header.name, what);
  for (let depth = 1; depth < parts.length; depth++) {
    const parent = parts.slice(0, depth).join('/');
    if (state.links.has(parent)) {
      throw new UnsafeArchiveError(
        `${what} holds "${header.name}", below the symbolic link "${parent}": writing it would go through the link; refusing to unpack a crafted archive`,
      );
    }
  }
  const path = join(directory, ...parts);
  switch (header.type) {
    case 'directory':
      await ensureDirectory(directory, parts, what);
      state.directoryTimes.push({ path, mtime: header.mtime ?? new Date() });
      result.directories++;
      entry.resume();
      return;
    case 'file':
    case 'contiguous-file':
      await ensureDirectory(directory, parts.slice(0, -1), what);
      // Owner read and write always: the restore is firedrill's throwaway copy, and checks must read a mode-000 file too.
      result.bytes += await writeFile(entry, path, ((header.mode ?? 0o600) & 0o777) | 0o600, state.signal, `${what}: "${header.name}"`);
      if (header.mtime) await utimes(path, header.mtime, header.mtime);
      result.files++;
      return;
    case 'symlink':
      if (!header.linkname) throw new UnsafeArchiveError(`${what} holds the symbolic link "${header.name}" without a target; refusing to unpack it`);
      await ensureDirectory(directory, parts.slice(0, -1), what);
      // The link itself is written inside; where it points is only ever read by checks, which never follow it out.
      await symlink(header.linkname, path).catch((error: unknown) => {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        throw new UnsafeArchiveError(`${what} holds "${header.name}" twice; refusing to unpack it`, { cause: error });
      });
      state.links.add(parts.join('/'));
      result.symlinks++;
      entry.resume();
      return;
    default:
      throw new UnsafeArchiveError(`${what} holds "${header.name}" of type ${header.type ?? 'unknown'}, which firedrill never archives; refusing to unpack it`);
  }
}

/** A refusal stays as it is; anything else (a full disk, permissions) says which entry, where, and what to do. */
function explainUnpackFailure(error: unknown, name: string, state: ExtractState): unknown {
  if (error instanceof IntegrityError || state.signal.aborted) return error;
  const code = (error as NodeJS.ErrnoException).code;
  const hint =
    code === 'ENOSPC' || code === 'EDQUOT'
      ? `; free space in ${state.directory}'s filesystem (TMPDIR), or point TMPDIR at a larger one`
      : code === 'EACCES' || code === 'EPERM'
        ? `; firedrill must be able to write in ${state.directory} (TMPDIR)`
        : '';
  // Space and permissions are this machine's, not the backup's: an environment error.
  const Kind = hint ? SandboxError : RestoreError;
  return new Kind(`cannot unpack "${name}" of ${state.what} into ${state.directory}: ${errorMessage(error)}${hint}`, { cause: error });
}

/** The name's components; absolute names, `..`, NUL bytes and empty names are refused. */
function checkName(name: string, what: string): string[] {
  const parts = name.split('/').filter((part) => part !== '' && part !== '.');
  if (name.startsWith('/') || parts.includes('..') || name.includes('\0') || parts.length === 0) {
    throw new UnsafeArchiveError(
      `${what} holds the entry "${name}", which would be written outside the restore directory (an absolute path or "..") or has no name; ` +
        'refusing to unpack a crafted or corrupt archive',
    );
  }
  return parts;
}

/** Creates the directories of `parts` below `root`, each checked to be a real directory, never a link. */
async function ensureDirectory(root: string, parts: string[], what: string): Promise<void> {
  let path = root;
  for (const part of parts) {
    path = join(path, part);
    try {
      await mkdir(path, { mode: 0o755 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const stats = await lstat(path);
    if (!stats.isDirectory()) {
      throw new UnsafeArchiveError(`${what} places a directory at "${parts.join('/')}", where it already put ${stats.isSymbolicLink() ? 'a symbolic link' : 'a file'}; refusing to unpack it`);
    }
  }
}

/**
 * Creates the file exclusively, without following a link in its place, and
 * streams the entry into it. Runs of zeros are skipped rather than written,
 * so a sparse file (a 1 GB database file mostly empty) stays sparse.
 */
async function writeFile(entry: ArchiveEntry, path: string, mode: number, signal: AbortSignal, what: string): Promise<number> {
  const handle = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode).catch((error: unknown) => {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ELOOP') {
      throw new UnsafeArchiveError(`${what} comes twice (or as a file where the archive put a link); refusing to unpack it`, { cause: error });
    }
    throw error;
  });
  let position = 0;
  try {
    for await (const chunk of entry as AsyncIterable<Buffer>) {
      signal.throwIfAborted();
      // Zeros are not written: the truncate below makes them a hole.
      if (!isAllZeros(chunk)) await writeFully(handle, chunk, position);
      position += chunk.length;
    }
    // Skipped zeros at the end still count: the size is the archived one.
    await handle.truncate(position);
  } finally {
    await handle.close();
  }
  return position;
}

async function writeFully(handle: FileHandle, chunk: Buffer, position: number): Promise<void> {
  let offset = 0;
  while (offset < chunk.length) {
    const { bytesWritten } = await handle.write(chunk, offset, chunk.length - offset, position + offset);
    offset += bytesWritten;
  }
}

const ZEROS = Buffer.alloc(64 * 1024);

function isAllZeros(chunk: Buffer): boolean {
  for (let offset = 0; offset < chunk.length; offset += ZEROS.length) {
    const piece = chunk.subarray(offset, Math.min(chunk.length, offset + ZEROS.length));
    if (!piece.equals(ZEROS.subarray(0, piece.length))) return false;
  }
  return true;
}
