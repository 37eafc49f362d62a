import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar, { type Extract, type Pack } from 'tar-stream';
import type { Secret } from '../secret.ts';
import { errorMessage } from '../errors.ts';
import type { Manifest, StoredObject } from '../interfaces.ts';
import { filesMetadataSchema } from '../engines/files/files-engine.ts';
import { readFileIndex } from '../engines/files/file-index.ts';
import { ByteCounter, decodeObject, decodeObjectToFile, encodingRecord, encodingStages } from '../pipeline/object-codec.ts';
import { HashingStream } from '../pipeline/hashing.ts';
import { createWorkDirectory } from '../pipeline/work-directory.ts';
import type { BackupCopy, DefectContext } from './defect.ts';
import { encodingOf } from './backup-copy.ts';
import { drained } from '../pipeline/drained.ts';

/**
 * Damage inside a files target's archive that the integrity check cannot
 * see: the stored tar is decoded, rewritten entry by entry with one file
 * changed or left out, encoded again the way the repository encodes, and the
 * manifest updated to the new bytes, so the SHA-256 matches and only a check
 * of the restored files against the backup's index can notice. Streamed
 * throughout: the archive is never held in memory, and the copy's object is
 * replaced only once its successor is complete.
 */

/** A files target's two stored objects, as the manifest names them. */
export interface FilesArchive {
  target: string;
  archive: StoredObject;
  index: StoredObject;
}

/** A regular file as the backup's index records it. */
export interface IndexedFile {
  path: string;
  size: number;
}

/** What becomes of the chosen file in the rewritten archive. */
export type EntryChange = { kind: 'leave-out' } | { kind: 'flip-byte'; offset: number };

/** Which files a defect can work with: any regular file, or only one with content. */
export type FileWanted = 'any' | 'non-empty';

/** The first files target holding a file of the kind wanted, by its totals in the manifest. */
export function filesArchive(manifest: Manifest, wanted: FileWanted): FilesArchive | undefined {
  for (const target of manifest.targets) {
    if (target.engine !== 'files') continue;
    const metadata = filesMetadataSchema.safeParse(target.metadata);
    if (!metadata.success || metadata.data.fileCount === 0 || (wanted === 'non-empty' && metadata.data.totalBytes === 0)) continue;
    const archive = manifest.objects.find((object) => object.name === metadata.data.archive);
    const index = manifest.objects.find((object) => object.name === metadata.data.index);
    if (archive && index) return { target: target.name, archive, index };
  }
  return undefined;
}

/** Why an archive defect cannot be made for this backup, or undefined when it can. */
export function archiveNotApplicable({ manifest, repository }: DefectContext, wanted: FileWanted): string | undefined {
  if (!manifest.targets.some((target) => target.engine === 'files')) return 'the backup has no files target';
  const found = filesArchive(manifest, wanted);
  if (!found) return wanted === 'non-empty' ? 'the backup has no files target with a non-empty regular file' : 'the backup has no files target with a regular file';
  const encrypted = Boolean(found.archive.encryption ?? found.index.encryption);
  if (encrypted && !repository.encoding.encryption?.identity) return "the repository's encryption.identity is needed to rewrite the archive";
  return undefined;
}

/** The largest regular file the index lists (ties: the first by name), read from the copy's index object. */
export async function largestFile({ repository, signal }: DefectContext, copy: BackupCopy, archive: FilesArchive, wanted: FileWanted): Promise<IndexedFile> {
  // Decoded to a private file, like a restore does, so the index is read line by line whatever its size.
  const work = await createWorkDirectory('gameday-index');
  try {
    const path = join(work.path, 'index.jsonl');
    await decodeObjectToFile([createReadStream(copy.objectPath(archive.index.name))], archive.index, identityOf(repository.encoding), path, signal);
    let largest: IndexedFile | undefined;
    for await (const entry of readFileIndex(path, `the file index of target "${archive.target}"`)) {
      if (entry.type !== 'file' || (wanted === 'non-empty' && entry.size === 0)) continue;
      if (!largest || entry.size > largest.size || (entry.size === largest.size && entry.path < largest.path)) largest = { path: entry.path, size: entry.size };
    }
    if (!largest) throw new Error(`the file index of target "${archive.target}" lists no ${wanted === 'non-empty' ? 'non-empty ' : ''}regular file, though the manifest counts some`);
    return largest;
  } finally {
    await work.release();
  }
}

/**
 * Rewrites the copy's archive of `archive.target` with `change` applied to
 * the file at `path`, and updates the copy's manifest to the new object's
 * size, SHA-256, content size and encoding. The index is left as it was.
 */
export async function rewriteArchive(context: DefectContext, copy: BackupCopy, archive: FilesArchive, path: string, change: EntryChange): Promise<void> {
  const { repository, signal } = context;
  const objectPath = copy.objectPath(archive.archive.name);
  const rewrittenPath = `${objectPath}.rewriting`;
  // Started before any stream exists: a missing encoder fails here, with nothing to tear down.
  // Written again the way it was written, whatever the repository's settings are now.
  const encoding = encodingOf(archive.archive, identityOf(repository.encoding));
  const stages = await encodingStages(encoding);
  // tar-stream's streams are streamx streams: Node's pipeline takes them (safe-extract reads archives so), though their types are not Node's.
  const extract = tar.extract();
  const pack = tar.pack();
  const counter = new ByteCounter();
  const hashing = new HashingStream();
  // Any one of the three failing stops the other two, which would otherwise wait for it forever; they fail with a Stopped, not a reason of their own.
  const stopping = (error: unknown): never => {
    extract.destroy(new Stopped());
    pack.destroy(new Stopped());
    throw error;
  };
  const results = await Promise.allSettled([
    decodeObject([createReadStream(objectPath)], archive.archive, identityOf(repository.encoding), extract as unknown as Writable, signal).catch(stopping),
    pipeline([Readable.from(pack), counter, ...stages, hashing, createWriteStream(rewrittenPath, { flags: 'wx', mode: 0o600 })], { signal }).catch(stopping),
    copyEntries(extract, pack, path, change, signal).catch(stopping),
  ]);
  const [decoded, encoded, copied] = results;
  if (decoded.status === 'rejected' || encoded.status === 'rejected' || copied.status === 'rejected') {
    await rm(rewrittenPath, { force: true });
    signal.throwIfAborted();
    // The one that failed by itself; reading comes first, as writing stops when what it is given breaks off.
    const failure = results.find((result) => result.status === 'rejected' && !(result.reason instanceof Stopped)) ?? results.find((result) => result.status === 'rejected');
    const reason: unknown = (failure as PromiseRejectedResult).reason;
    throw new Error(`rewriting the archive of target "${archive.target}" failed: ${errorMessage(reason)}`, { cause: reason });
  }
  if (!copied.value) {
    await rm(rewrittenPath, { force: true });
    throw new Error(`the archive of target "${archive.target}" has no file ${JSON.stringify(path)}, which its index lists`);
  }
  await rename(rewrittenPath, objectPath);
  const manifest = structuredClone(await copy.readManifest());
  manifest.objects = manifest.objects.map((object) => {
    if (object.name !== archive.archive.name) return object;
    // Re-encoded the repository's way: what the object records of its encoding follows, an encryption it no longer has included.
    const { encryption: _previous, ...rest } = object;
    return { ...rest, sizeBytes: hashing.sizeBytes, sha256: hashing.sha256, contentSizeBytes: counter.sizeBytes, ...encodingRecord(encoding) };
  });
  await copy.writeManifest(manifest);
}

/** Every entry of `extract` into `pack` as it was, except the file at `path`; true when that file was found. */
async function copyEntries(extract: Extract, pack: Pack, path: string, change: EntryChange, signal: AbortSignal): Promise<boolean> {
  let found = false;
  for await (const entry of extract) {
    const header = entry.header;
    const chosen = header.type === 'file' && header.name === path;
    found ||= chosen;
    if (chosen && change.kind === 'leave-out') {
      // Read through and dropped: the extractor moves on only once an entry is consumed.
      for await (const _chunk of entry) {
        // dropped
      }
      continue;
    }
    const flipAt = chosen && change.kind === 'flip-byte' ? change.offset : undefined;
    let added: (error?: Error | null) => void = () => undefined;
    const finished = new Promise<void>((resolve, reject) => (added = (error) => (error ? reject(error) : resolve())));
    // Settled by pack when the entry is done or failed; awaited below unless the copy stops first.
    finished.catch(() => undefined);
    // A copy of the header: pack fills in defaults on the object it is given.
    const sink = pack.entry({ ...header }, added);
    let offset = 0;
    for await (const chunk of entry as AsyncIterable<Buffer>) {
      let bytes = chunk;
      if (flipAt !== undefined && flipAt >= offset && flipAt < offset + chunk.length) {
        bytes = Buffer.from(chunk);
        bytes[flipAt - offset] = (bytes[flipAt - offset] ?? 0) ^ 0x01;
      }
      offset += chunk.length;
      if (!sink.write(bytes)) await drained(sink, signal, { closedMessage: 'the rewritten archive was closed while an entry was being copied' });
    }
    if (header.type === 'file' || header.type === 'contiguous-file') sink.end(undefined);
    await finished;
  }
  pack.finalize();
  return found;
}


function identityOf(encoding: DefectContext['repository']['encoding']): Secret | undefined {
  return encoding.encryption?.identity;
}

/** How a stage ends when another one failed: never the reason reported. */
class Stopped extends Error {
  constructor() {
    super('stopped because another stage of the rewrite failed');
  }
}
