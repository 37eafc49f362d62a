import type { FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { BackupWriter, ObjectSink, Repository } from '../interfaces.ts';
import type { DrillRunContext } from './run-context.ts';
import type { DrillConfig } from '../config/load.ts';
import { MANIFEST_FORMAT_VERSION, type Manifest, type StoredObject, type TargetRecord } from '../repository/manifest.ts';
import { HashingStream } from '../pipeline/hashing.ts';
import { followWrittenFile } from '../pipeline/follow-file.ts';
import type { ChainToFile } from '../pipeline/child-stage.ts';
import { onAbort } from '../abort.ts';
import { engineFor } from '../engines/registry.ts';
import { BackupError, FiredrillError, IntegrityError, RepositoryError, SandboxError, UsageError, errorMessage, isOutOfSpace } from '../errors.ts';
import { ByteCounter, checkEncoding, encodedByProcesses, encodedIntoFile, encodingRecord, encodingSuffix, encodingStages, type ObjectEncodingRecord, type StorageEncoding } from '../pipeline/object-codec.ts';
import { FIREDRILL_VERSION } from '../version.ts';
import { drillTargets } from './targets.ts';
import { newId } from './ids.ts';

/**
 * Takes one backup of every target of a drill and commits it: objects first,
 * the manifest last. Until the commit, the partial backup is registered for
 * removal, so a failure at any point (pg_dump exit status, a full disk, a
 * signal) leaves nothing that looks like a backup.
 */
export async function takeBackup(context: DrillRunContext, drill: DrillConfig, repository: Repository): Promise<Manifest> {
  await context.phase('backup.preflight', async () => {
    await checkRepositoryEncoding(repository, context);
    await repository.preflight(drill.name);
    const { removed, abortedUploads, problems, warnings } = await repository.removeAbandoned(drill.name);
    for (const warning of warnings) context.logger.warn(warning);
    if (removed.length > 0) context.logger.warn({ removed }, 'removed incomplete backups left behind by firedrill processes that no longer run');
    if (abortedUploads.length > 0) context.logger.warn({ abortedUploads }, 'aborted multipart uploads left behind by firedrill processes that no longer run');
    for (const problem of problems) context.logger.warn(problem);
  });
  const backupId = newId();
  const createdAt = new Date();
  const writer = await repository.startBackup(drill.name, backupId);
  const partial = context.releasers.add(`partial backup ${backupId} in ${repository.describe()}`, () => writer.abort());
  context.logger.info({ backupId, repository: repository.name }, 'backup started');

  const objects: StoredObject[] = [];
  const targets: TargetRecord[] = [];
  for (const target of drillTargets(drill)) {
    const sink: ObjectSink = {
      compresses: repository.encoding.compression !== 'none',
      write: async (objectName, body) => {
        // `orders.pgdump.zst.age` says how to read it back by hand: age -d, then zstd -d.
        const storedName = `${objectName}${encodingSuffix(repository.encoding)}`;
        const stored = {
          name: storedName,
          target: target.name,
          ...(await storeObject(writer, storedName, body, repository.encoding, context.signal).catch((error: unknown) => {
            throw withOutOfSpaceHint(error, repository);
          })),
        };
        objects.push(stored);
        return stored;
      },
    };
    targets.push(await engineFor(target.config.type).backup(context, target.name, target.engineTarget as never, sink));
  }

  const manifest: Manifest = {
    formatVersion: MANIFEST_FORMAT_VERSION,
    backupId,
    drill: drill.name,
    createdAt: createdAt.toISOString(),
    completedAt: new Date().toISOString(),
    firedrillVersion: FIREDRILL_VERSION,
    targets,
    objects,
    timings: Object.fromEntries(context.phases.filter((phase) => phase.name.startsWith('backup.')).map((phase) => [phase.name, phase.durationMs])),
  };
  await context.phase('backup.commit', () =>
    writer.commit(manifest).catch((error: unknown) => {
      throw withOutOfSpaceHint(error, repository);
    }),
  );
  partial.forget();
  context.logger.info({ backupId, objects: objects.length }, 'backup committed');
  return manifest;
}

/** A full repository filesystem is the storage's problem, said with where and what to do; the partial backup is removed on the way out. */
function withOutOfSpaceHint(error: unknown, repository: Repository): unknown {
  // An environment error already says which filesystem filled up (the files engine's index in TMPDIR).
  if (!isOutOfSpace(error) || error instanceof SandboxError) return error;
  return new RepositoryError(
    `${errorMessage(error)}. The storage of ${repository.describe()} is full: nothing was committed. ` +
      'Free space there (`firedrill prune` applies the retention policy), or give the repository a larger filesystem',
    { cause: error },
  );
}

/**
 * Streams one object into the repository as one pipeline: count → compress →
 * encrypt → hash → store. Any stage failing (a compressor's exit status
 * included) fails the whole, and the backup is not committed.
 */
async function storeObject(
  writer: BackupWriter,
  objectName: string,
  body: Readable,
  encoding: StorageEncoding,
  signal: AbortSignal,
): Promise<{ sizeBytes: number; sha256: string; contentSizeBytes?: number } & ObjectEncodingRecord> {
  // A local repository: pg_dump | zstd | age write the object file themselves, and Node only reads it back behind them.
  const openFile = writer.openObjectFile?.bind(writer);
  const intoFile = openFile ? await encodedIntoFile(body, encoding, () => openFile(objectName)) : undefined;
  if (intoFile) return { ...(await storeIntoFile(intoFile, objectName, encoding, signal)), ...encodingRecord(encoding) };
  const hashing = new HashingStream();
  // pg_dump | zstd | age as operating-system pipes where possible: Node then only sees the stored bytes.
  const byProcesses = await encodedByProcesses(body, encoding);
  const counter = byProcesses ? undefined : new ByteCounter();
  const stages = byProcesses ? [byProcesses] : [body, counter as ByteCounter, ...(await encodingStages(encoding))];
  // Either side's failure ends the other with the same error; which failed first is the cause worth reporting.
  let firstFailure: 'producer' | 'writer' | undefined;
  for (const stream of stages) stream.once('error', () => (firstFailure ??= 'producer'));
  // A repository that stops reading (an upload that failed) must also stop the producing side, which would otherwise wait forever.
  const writing = writer.writeObject(objectName, hashing, signal).catch((error: unknown) => {
    firstFailure ??= 'writer';
    hashing.destroy(error as Error);
    throw error;
  });
  const [produced, written] = await Promise.allSettled([pipeline([...stages, hashing], { signal }), writing]);
  if (produced.status === 'rejected' && (firstFailure === 'producer' || written.status === 'fulfilled')) {
    const reason: unknown = produced.reason;
    if (reason instanceof FiredrillError || signal.aborted) throw reason;
    throw new BackupError(`encoding ${objectName} for the repository failed (${describeEncoding(encoding)}): ${errorMessage(reason)}`, { cause: reason });
  }
  if (written.status === 'rejected') throw written.reason;
  if (produced.status === 'rejected') throw produced.reason;
  return { sizeBytes: hashing.sizeBytes, sha256: hashing.sha256, ...(counter ? { contentSizeBytes: counter.sizeBytes } : {}), ...encodingRecord(encoding) };
}

/**
 * Waits for the chain writing the object file while hashing what it wrote;
 * either failing stops the other. The file is fsynced and closed before this
 * returns; on failure the partial backup's removal deletes it.
 */
async function storeIntoFile(
  { chain, handle }: { chain: ChainToFile; handle: FileHandle },
  objectName: string,
  encoding: StorageEncoding,
  signal: AbortSignal,
): Promise<{ sizeBytes: number; sha256: string }> {
  const stopOnAbort = onAbort(signal, () => void chain.kill());
  try {
    return await followWrittenFile(handle, chain.finished, signal);
  } catch (error) {
    await chain.kill();
    if (error instanceof FiredrillError || signal.aborted) throw error;
    throw new BackupError(`encoding ${objectName} for the repository failed (${describeEncoding(encoding)}): ${errorMessage(error)}`, { cause: error });
  } finally {
    stopOnAbort();
    await handle.close();
  }
}

/** Encryption that cannot work stops the backup before anything is dumped: never a quiet fallback to clear text. */
async function checkRepositoryEncoding(repository: Repository, context: DrillRunContext): Promise<void> {
  try {
    for (const warning of await checkEncoding(repository.encoding)) context.logger.warn(`${repository.describe()}: ${warning}`);
  } catch (error) {
    throw new RepositoryError(`${repository.describe()} cannot store backups: ${errorMessage(error)}`, { cause: error });
  }
}

function describeEncoding(encoding: StorageEncoding): string {
  return [`compression ${encoding.compression}`, encoding.encryption ? 'age encryption' : 'no encryption'].join(', ');
}

/**
 * `--from-backup latest|ID`: the manifest of an existing, complete backup.
 * "latest" never quietly falls back past a damaged newer backup: the newest
 * one that is not still being written is the one drilled.
 */
export async function selectBackup(drill: DrillConfig, repository: Repository, wanted: string): Promise<Manifest> {
  if (wanted !== 'latest') return checkBelongs(await repository.readManifest(drill.name, wanted), wanted, drill, repository);
  const backups = await repository.listBackups(drill.name);
  const newest = backups.find((entry) => entry.status !== 'incomplete');
  if (newest?.status === 'invalid') {
    throw new IntegrityError(`the latest backup of drill "${drill.name}", ${newest.backupId} in ${repository.describe()}, is damaged: ${newest.problem ?? 'invalid manifest'}`);
  }
  if (!newest?.manifest) {
    const others = backups.length > 0 ? ` (${backups.length} incomplete one(s) are ignored)` : '';
    throw new UsageError(`drill "${drill.name}" has no complete backup in ${repository.describe()}${others}; run it once without --from-backup to take one`);
  }
  return checkBelongs(newest.manifest, newest.backupId, drill, repository);
}

/** A manifest must describe the backup it was found under: a copied or edited one would restore another backup's objects. */
function checkBelongs(manifest: Manifest, backupId: string, drill: DrillConfig, repository: Repository): Manifest {
  if (manifest.backupId !== backupId || manifest.drill !== drill.name) {
    throw new IntegrityError(
      `the manifest of backup ${backupId} (drill "${drill.name}") in ${repository.describe()} describes backup ${manifest.backupId} of drill "${manifest.drill}"; the backup cannot be trusted`,
    );
  }
  return manifest;
}
