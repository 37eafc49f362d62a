import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Engine, FetchedObjects, Repository, RestorePlace, RestoredTarget, Sandbox, StartedSandbox } from '../interfaces.ts';
import type { DrillRunContext } from './run-context.ts';
import type { DrillConfig } from '../config/load.ts';
import type { Manifest, StoredObject, TargetRecord } from '../repository/manifest.ts';
import { HashingStream, hashFile } from '../pipeline/hashing.ts';
import { AbortedError, ConfigError, FiredrillError, IntegrityError, RepositoryError, RestoreError, SandboxError, errorMessage, isOutOfSpace } from '../errors.ts';
import { DecodeError, decodeObjectToFile } from '../pipeline/object-codec.ts';
import { recipientsOfIdentity } from '../pipeline/encryption.ts';
import { existingObjectOf } from './existing-backup.ts';
import { createWorkDirectory, reapWorkDirectories } from '../pipeline/work-directory.ts';
import { fetchExisting } from './fetch-existing.ts';
import { engineFor } from '../engines/registry.ts';

/**
 * Fetch, verify, start a sandbox, restore. Verification comes first and is
 * complete: a backup whose stored bytes differ from the manifest is never
 * restored, because a restore that "works" from corrupt bytes proves nothing.
 */

/** One restored target: its record, what it was restored into, and the sandbox when it is a database. */
export interface RestoredTargetResult {
  record: TargetRecord;
  restored: RestoredTarget;
  sandbox?: StartedSandbox | undefined;
}

export interface RestoreResult {
  targets: RestoredTargetResult[];
  /** The first target's sandbox, when it has one: what reports describe. */
  sandbox?: StartedSandbox | undefined;
}

export async function restoreBackup(
  context: DrillRunContext,
  drill: DrillConfig,
  manifest: Manifest,
  repository: Repository,
  sandbox: Sandbox,
): Promise<RestoreResult> {
  if (manifest.targets.length === 0) throw new RepositoryError(`backup ${manifest.backupId} records no targets`);
  // What a killed run left in the temp dir (decoded backups, a key) goes before this run adds its own.
  await reapWorkDirectories(context.logger);
  const existing = existingObjectOf(manifest);
  try {
    const targets = existing
      ? [await restoreExisting(context, drill, manifest, repository, sandbox, existing)]
      : // Every target at once: a database's restore and its files' unpacking overlap, and RTO is the longest, not the sum.
        await allOrFirstFailure(manifest.targets.map((target) => restoreTarget(context, drill, manifest, repository, sandbox, target)));
    return { targets, sandbox: targets.find((target) => target.sandbox)?.sandbox };
  } catch (error) {
    throw withOutOfSpaceHint(error);
  }
}

/**
 * A full disk during a restore is this machine's problem, never the backup's:
 * an environment error (exit 2) that says which space a restore uses. The
 * original stays the cause, so the report still names the phase it came from.
 */
function withOutOfSpaceHint(error: unknown): unknown {
  // An integrity or abort verdict stands, whatever words it quotes.
  if (!isOutOfSpace(error) || error instanceof AbortedError || error instanceof IntegrityError) return error;
  // Unpacking files already says which directory filled up and what to do.
  if (error instanceof SandboxError && errorMessage(error).includes('TMPDIR')) return error;
  return new SandboxError(
    `${errorMessage(error)}\nA filesystem this restore writes to is full. TMPDIR (${tmpdir()}) holds fetched backups, work files and local sandboxes ` +
      '(unless sandboxes.<name>.directory puts them elsewhere); a Docker sandbox\'s data is in the Docker engine\'s storage (see docker system df). ' +
      'A restore needs about the backup\'s size plus the restored data\'s. Free space there, or point TMPDIR or the sandbox directory at a larger filesystem.',
    { cause: error },
  );
}

/** Phase names carry the target's name when a backup has several, so each target's timings stay apart. */
function phaseName(base: string, manifest: Manifest, target: TargetRecord): string {
  return manifest.targets.length > 1 ? `${base}:${target.name}` : base;
}

function restoreOptions(drill: DrillConfig, target: string) {
  return {
    jobs: drill.restore.jobs,
    privileges: drill.restore.privileges,
    prepare: drill.restore.prepare === undefined ? undefined : { sql: drill.restore.prepare, configuredIn: drill.file },
    // A gameday's damage is for one target: the others restore as they are.
    damage: drill.restore.damage?.target === target ? drill.restore.damage : undefined,
  };
}

async function restoreTarget(
  context: DrillRunContext,
  drill: DrillConfig,
  manifest: Manifest,
  repository: Repository,
  sandbox: Sandbox,
  target: TargetRecord,
): Promise<RestoredTargetResult> {
  const engine = engineFor(target.engine);
  const objects = manifest.objects.filter((object) => object.target === target.name);
  const fetching = context.phase(phaseName('restore.fetch', manifest, target), () => fetchAndVerify(context, drill, manifest, repository, objects));
  // A sandbox starts while the backup is fetched and verified (RTO is their longer, not their sum); files go into a fresh
  // directory. Nothing is restored before both are done, so a corrupt backup is still never loaded.
  const preparing: Promise<RestorePlace> =
    engine.restoresInto === 'sandbox'
      ? context
          .phase(phaseName('restore.sandbox', manifest, target), () =>
            sandbox.start(context, requirementsOf(engine, target), { image: drill.restore.image }),
          )
          .then((started) => ({ kind: 'sandbox', sandbox: started }))
      : restoreDirectory(context, target).then((directory) => ({ kind: 'directory', directory }));
  const [fetched, place] = await bothOrNeither(fetching, preparing);
  if (place.kind === 'sandbox') context.logger.info({ target: target.name, sandbox: place.sandbox.description }, 'sandbox started');
  const restored = await engine.restore(context, target, fetched, place, restoreOptions(drill, target.name));
  return { record: target, restored, sandbox: place.kind === 'sandbox' ? place.sandbox : undefined };
}

/** A backup made elsewhere describes itself only once fetched: the dump's header says which server it needs. */
async function restoreExisting(
  context: DrillRunContext,
  drill: DrillConfig,
  manifest: Manifest,
  repository: Repository,
  sandbox: Sandbox,
  existing: NonNullable<ReturnType<typeof existingObjectOf>>,
): Promise<RestoredTargetResult> {
  let [target] = manifest.targets as [TargetRecord];
  const engine = engineFor(target.engine);
  const file = await context.phase('restore.fetch', () => fetchExisting(context, drill, manifest, existing, repository));
  if (!engine.inspectExisting) throw new RestoreError(`the ${target.engine} engine cannot drill backups made elsewhere`);
  target = await engine.inspectExisting(target, file, { database: existing.database, configuredIn: drill.file });
  manifest.targets[0] = target;
  const record = target;
  const started = await context.phase('restore.sandbox', () => sandbox.start(context, requirementsOf(engine, record), { image: drill.restore.image }));
  context.logger.info({ sandbox: started.description }, 'sandbox started');
  const restored = await engine.restore(context, target, { path: () => file.path }, { kind: 'sandbox', sandbox: started }, restoreOptions(drill, target.name));
  return { record: target, restored, sandbox: started };
}

function requirementsOf(engine: Engine<never>, target: TargetRecord) {
  if (!engine.sandboxRequirements) throw new Error(`the ${engine.type} engine restores into a sandbox but states no requirements`);
  return engine.sandboxRequirements(target);
}

/** An empty throwaway directory for a files target, removed with the run (and reaped if the run is killed). */
async function restoreDirectory(context: DrillRunContext, target: TargetRecord): Promise<string> {
  const work = await createWorkDirectory('restore-files');
  context.releasers.add(`restored files of target "${target.name}" in ${work.path}`, () => work.release());
  const directory = join(work.path, 'files');
  await mkdir(directory, { mode: 0o700 });
  return directory;
}

/** Waits for every one, even when one fails, so nothing is still running when the run releases what it started. */
async function allOrFirstFailure<T>(promises: Promise<T>[]): Promise<T[]> {
  const settled = await Promise.allSettled(promises);
  const failed = settled.find((result) => result.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((result) => (result as PromiseFulfilledResult<T>).value);
}

/**
 * Waits for both, even when one fails, so nothing is still starting when the
 * run releases what it started; the first failure is the cause (a corrupt
 * backup before a sandbox that would not start).
 */
async function bothOrNeither<A, B>(first: Promise<A>, second: Promise<B>): Promise<[A, B]> {
  const [a, b] = await Promise.allSettled([first, second]);
  if (a.status === 'rejected') throw a.reason;
  if (b.status === 'rejected') throw b.reason;
  return [a.value, b.value];
}

/**
 * Every object, checked for size and SHA-256 against the manifest, and
 * decoded. An object stored as written in a local repository is verified in
 * place; anything else streams through hash → decrypt → decompress into a
 * temp dir, because pg_restore --jobs needs a seekable file. A mismatch is an
 * integrity failure even when decoding went through.
 */
async function fetchAndVerify(
  context: DrillRunContext,
  drill: DrillConfig,
  manifest: Manifest,
  repository: Repository,
  objects: StoredObject[],
): Promise<FetchedObjects> {
  const paths = new Map<string, string>();
  let temporaryDirectory: string | undefined;
  for (const object of objects) {
    const encoded = (object.compression ?? 'none') !== 'none' || object.encryption !== undefined;
    const inPlace = encoded ? undefined : repository.localObjectPath(drill.name, manifest.backupId, object.name);
    if (inPlace) {
      verifyStored(await hashInPlace(context, manifest, repository, object, inPlace), object, manifest);
      paths.set(object.name, inPlace);
      continue;
    }
    if (!temporaryDirectory) {
      const directory = await createWorkDirectory('fetch');
      temporaryDirectory = directory.path;
      context.releasers.add(`fetched objects in ${directory.path}`, () => directory.release());
    }
    const path = join(temporaryDirectory, object.name);
    // A key that cannot open this object is known before anything is downloaded.
    if (object.encryption) await checkIdentity(repository, object, manifest, context);
    const hashing = new HashingStream();
    const source = await repository.readObject(drill.name, manifest.backupId, object.name);
    try {
      await decodeObjectToFile([source, hashing], object, repository.encoding.encryption?.identity, path, context.signal);
    } catch (error) {
      if (context.signal.aborted) throw new AbortedError();
      // Stored bytes that differ from the manifest explain any decoding failure: say that, not what the decoder saw.
      if (hashing.finished) verifyStored({ sizeBytes: hashing.sizeBytes, sha256: hashing.sha256 }, object, manifest);
      else if (error instanceof DecodeError) verifyStored(await hashStored(context, drill, manifest, repository, object), object, manifest);
      throw explainDecodeFailure(error, object, manifest, repository);
    }
    verifyStored({ sizeBytes: hashing.sizeBytes, sha256: hashing.sha256 }, object, manifest);
    paths.set(object.name, path);
  }
  context.logger.info({ objects: objects.length }, 'backup objects verified');
  return {
    path: (objectName) => {
      const path = paths.get(objectName);
      if (!path) throw new IntegrityError(`backup ${manifest.backupId} has no object ${objectName} in its manifest`);
      return path;
    },
  };
}

async function hashInPlace(context: DrillRunContext, manifest: Manifest, repository: Repository, object: StoredObject, path: string) {
  try {
    return await hashFile(path, context.signal);
  } catch (error) {
    if (context.signal.aborted) throw error;
    // A missing object is a damaged backup; anything else (permissions, I/O) is the storage's problem.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new IntegrityError(`object ${object.name} of backup ${manifest.backupId} is missing from ${repository.describe()}; the backup is damaged`, { cause: error });
    }
    throw new RepositoryError(`cannot read object ${object.name} of backup ${manifest.backupId} in ${repository.describe()}: ${errorMessage(error)}`, {
      cause: error,
    });
  }
}

function verifyStored(actual: { sizeBytes: number; sha256: string }, object: StoredObject, manifest: Manifest): void {
  if (actual.sizeBytes !== object.sizeBytes || actual.sha256 !== object.sha256) {
    throw new IntegrityError(
      `object ${object.name} of backup ${manifest.backupId} does not match its manifest: ` +
        `stored ${actual.sizeBytes} bytes with SHA-256 ${actual.sha256}, manifest recorded ${object.sizeBytes} bytes with SHA-256 ${object.sha256}. ` +
        `The stored backup is corrupt (bit rot, truncation or tampering) and was not restored; do not rely on it, take a new backup and check the storage`,
    );
  }
}

/** The decoder stopped early: hash the whole stored object to tell damaged bytes from anything else. */
async function hashStored(context: DrillRunContext, drill: DrillConfig, manifest: Manifest, repository: Repository, object: StoredObject) {
  const hashing = new HashingStream();
  await pipeline(await repository.readObject(drill.name, manifest.backupId, object.name), hashing, new Writable({ write: (_chunk, _encoding, done) => done() }), {
    signal: context.signal,
  });
  return { sizeBytes: hashing.sizeBytes, sha256: hashing.sha256 };
}

/**
 * The configured identity must exist, be an age key, and belong to one of
 * the recipients the object was encrypted to. A missing or malformed key is
 * a configuration problem; a valid key that is not a recipient fails the
 * drill (the backup cannot be restored with what this setup holds).
 */
async function checkIdentity(repository: Repository, object: StoredObject, manifest: Manifest, context: DrillRunContext): Promise<void> {
  const identity = repository.encoding.encryption?.identity;
  const where = repository.describe();
  const recipients = object.encryption?.recipients ?? [];
  if (!identity) {
    throw new ConfigError([
      { file: where, path: 'encryption.identity', message: `is needed to restore backup ${manifest.backupId}: it is age-encrypted (to ${recipients.join(', ')})` },
    ]);
  }
  let own: string[];
  try {
    own = await recipientsOfIdentity(identity);
  } catch (error) {
    if (error instanceof FiredrillError) throw error;
    throw new ConfigError([{ file: where, path: 'encryption.identity', message: `(from ${identity.origin}) is not a usable age identity: ${errorMessage(error)}` }], {
      cause: error,
    });
  }
  context.logger.debug({ identityRecipients: own }, 'age identity checked');
  if (recipients.length > 0 && !own.some((recipient) => recipients.includes(recipient))) {
    throw new RestoreError(
      `cannot decrypt object ${object.name} of backup ${manifest.backupId} in ${where}: the identity from ${identity.origin} (${own.join(', ')}) ` +
        `is not one it was encrypted to (${recipients.join(', ')}). Set encryption.identity of repository "${repository.name}" to the matching key`,
    );
  }
}

/** The stored bytes match the manifest (checked above), so a decoder that fails on them says something about them or the tools. */
function explainDecodeFailure(error: unknown, object: StoredObject, manifest: Manifest, repository: Repository): Error {
  const what = `object ${object.name} of backup ${manifest.backupId} in ${repository.describe()}`;
  if (error instanceof DecodeError) {
    if ((error.cause as { exitCode?: unknown } | undefined)?.exitCode === null) {
      return new RepositoryError(`cannot decode ${what}: ${errorMessage(error)}`, { cause: error });
    }
    return new IntegrityError(
      `${what} matches its manifest but cannot be read back: ${errorMessage(error)}. It was written damaged (or by a broken tool); do not rely on this backup`,
      { cause: error },
    );
  }
  if (error instanceof FiredrillError) return error;
  return new RepositoryError(`cannot fetch ${what}: ${errorMessage(error)}`, { cause: error });
}
