import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { FetchedObjects, Repository, RestoredTarget, Sandbox, StartedSandbox } from '../interfaces.ts';
import type { DrillRunContext } from './run-context.ts';
import type { DrillConfig } from '../config/load.ts';
import type { Manifest, StoredObject, TargetRecord } from '../repository/manifest.ts';
import { HashingStream, hashFile } from '../pipeline/hashing.ts';
import { IntegrityError, RepositoryError, errorMessage } from '../errors.ts';
import { engineFor } from '../engines/registry.ts';

/**
 * Fetch, verify, start a sandbox, restore. Verification comes first and is
 * complete: a backup whose stored bytes differ from the manifest is never
 * restored, because a restore that "works" from corrupt bytes proves nothing.
 */

export interface RestoreResult {
  sandbox: StartedSandbox;
  target: TargetRecord;
  restored: RestoredTarget;
}

export async function restoreBackup(
  context: DrillRunContext,
  drill: DrillConfig,
  manifest: Manifest,
  repository: Repository,
  sandbox: Sandbox,
): Promise<RestoreResult> {
  const [target] = manifest.targets;
  if (!target) throw new RepositoryError(`backup ${manifest.backupId} records no targets`);
  const engine = engineFor(target.engine);
  const objects = manifest.objects.filter((object) => object.target === target.name);

  const fetched = await context.phase('restore.fetch', () => fetchAndVerify(context, drill, manifest, repository, objects));
  const requirements = engine.sandboxRequirements(target);
  // start() registers the sandbox's own removal with the run's releasers, from its first resource on.
  const started = await context.phase('restore.sandbox', () => sandbox.start(context, requirements, { image: drill.restore.image }));
  context.logger.info({ sandbox: started.description }, 'sandbox started');
  const restored = await engine.restore(context, target, fetched, started, {
    jobs: drill.restore.jobs,
    privileges: drill.restore.privileges,
    prepare: drill.restore.prepare === undefined ? undefined : { sql: drill.restore.prepare, configuredIn: drill.file },
  });
  return { sandbox: started, target, restored };
}

/**
 * Every object, checked for size and SHA-256 against the manifest. A local
 * repository's files are verified in place; anything else is streamed into a
 * temp dir (hashed on the way) because pg_restore --jobs needs a seekable file.
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
    let path = repository.localObjectPath(drill.name, manifest.backupId, object.name);
    let actual: { sizeBytes: number; sha256: string };
    if (path) {
      try {
        actual = await hashFile(path, context.signal);
      } catch (error) {
        if (context.signal.aborted) throw error;
        // A missing object is a damaged backup; anything else (permissions, I/O) is the storage's problem.
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
          throw new IntegrityError(`object ${object.name} of backup ${manifest.backupId} is missing from ${repository.describe()}; the backup is damaged`, {
            cause: error,
          });
        }
        throw new RepositoryError(`cannot read object ${object.name} of backup ${manifest.backupId} in ${repository.describe()}: ${errorMessage(error)}`, {
          cause: error,
        });
      }
    } else {
      if (!temporaryDirectory) {
        const directory = await mkdtemp(join(tmpdir(), 'firedrill-fetch-'));
        temporaryDirectory = directory;
        context.releasers.add(`fetched objects in ${directory}`, () => rm(directory, { recursive: true, force: true }));
      }
      path = join(temporaryDirectory, object.name);
      const hashing = new HashingStream();
      await pipeline(await repository.readObject(drill.name, manifest.backupId, object.name), hashing, createWriteStream(path, { mode: 0o600 }), {
        signal: context.signal,
      });
      actual = { sizeBytes: hashing.sizeBytes, sha256: hashing.sha256 };
    }
    if (actual.sizeBytes !== object.sizeBytes || actual.sha256 !== object.sha256) {
      throw new IntegrityError(
        `object ${object.name} of backup ${manifest.backupId} does not match its manifest: ` +
          `stored ${actual.sizeBytes} bytes with SHA-256 ${actual.sha256}, manifest recorded ${object.sizeBytes} bytes with SHA-256 ${object.sha256}. ` +
          `The stored backup is corrupt (bit rot, truncation or tampering) and was not restored; do not rely on it, take a new backup and check the storage`,
      );
    }
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
