import { matchesGlob } from 'node:path';
import type { ForeignObject, Repository } from '../interfaces.ts';
import type { DrillConfig, RunnerConfig } from '../config/load.ts';
import type { Secret } from '../secret.ts';
import { MANIFEST_FORMAT_VERSION, type Manifest } from '../repository/manifest.ts';
import { createRepository } from '../repository/registry.ts';
import { ConfigError, RestoreError, UsageError } from '../errors.ts';
import { FIREDRILL_VERSION } from '../version.ts';
import { SINGLE_TARGET_NAME } from './targets.ts';

/**
 * Backups made elsewhere (`backup.existing`): a nightly `pg_dump | gzip` to
 * S3 is drilled like firedrill's own. There is no manifest, so one is made
 * up from the object listing: the object's size is checked on download, its
 * SHA-256 is computed and reported, and what the dump needs (server version,
 * roles) is read from the dump itself once it is fetched.
 */

export interface ExistingObject {
  repository: string;
  key: string;
  sizeBytes: number;
  modifiedAt: Date;
  format: 'custom' | 'plain' | 'directory-tar';
  compression: 'auto' | 'zstd' | 'gzip' | 'none';
  identity?: Secret | undefined;
  database?: string | undefined;
}

/** Where a made-up manifest keeps what it was made from. */
const EXISTING = Symbol('existing backup');

export function existingObjectOf(manifest: Manifest): ExistingObject | undefined {
  return (manifest as Manifest & { [EXISTING]?: ExistingObject })[EXISTING];
}

/** The repository that holds a drill's existing backups. */
export function existingRepositoryFor(runner: RunnerConfig, drill: DrillConfig): Repository {
  const name = drill.backup.existing?.repository ?? drill.backup.repository;
  const config = runner.repositories[name];
  if (!config) throw new ConfigError([{ file: drill.file, path: 'backup.existing.repository', message: `unknown repository "${name}"` }]);
  return createRepository(name, config, { cwd: runner.cwd });
}

/**
 * The object a run drills: by the drill's `select` rule (`wanted`
 * undefined), the newest ("latest"), or one by its key as `firedrill
 * backups` lists it.
 */
export async function selectExistingBackup(
  drill: DrillConfig,
  repository: Repository,
  wanted: string | undefined,
  options: { now: Date; random: () => number },
): Promise<Manifest> {
  const existing = drill.backup.existing;
  if (!existing) throw new UsageError(`drill "${drill.name}" does not drill existing backups`);
  const candidates = await listExistingBackups(drill, repository);
  const where = `${repository.describe()} under "${existing.prefix}" matching "${existing.pattern}"`;
  if (candidates.length === 0) {
    const present = await describeWhatIsThere(repository, existing.prefix);
    throw new ConfigError([{ file: drill.file, path: 'backup.existing.pattern', message: `matches no object in ${where}; ${present}` }]);
  }
  let chosen: ForeignObject | undefined;
  if (wanted === 'latest') {
    chosen = candidates[0];
  } else if (wanted !== undefined) {
    chosen = candidates.find((candidate) => candidate.key === wanted);
    if (!chosen) throw new UsageError(`drill "${drill.name}" has no backup "${wanted}" in ${where} (see firedrill backups ${drill.name})`);
  } else {
    const window = existing.window;
    const inWindow = window === undefined ? candidates : candidates.filter((candidate) => options.now.getTime() - candidate.modifiedAt.getTime() <= window);
    if (inWindow.length === 0) {
      // Nothing recent enough to drill is what a drill exists to notice: a failure, not a usage error.
      const newest = candidates[0] as ForeignObject;
      throw new RestoreError(
        `drill "${drill.name}" found no backup in ${where} newer than backup.existing.window: the newest, ${newest.key}, was written ${newest.modifiedAt.toISOString()}`,
      );
    }
    // Candidates are newest first.
    chosen =
      existing.select === 'latest'
        ? inWindow[0]
        : existing.select === 'oldest'
          ? inWindow.at(-1)
          : inWindow[Math.min(inWindow.length - 1, Math.floor(options.random() * inWindow.length))];
  }
  return manifestFor(drill, repository, {
    repository: repository.name,
    key: (chosen as ForeignObject).key,
    sizeBytes: (chosen as ForeignObject).sizeBytes,
    modifiedAt: (chosen as ForeignObject).modifiedAt,
    format: existing.format,
    compression: existing.compression,
    identity: existing.encryption?.identity,
    database: existing.database,
  });
}

/** `./nightly/` and `nightly/` name the same place: keys are compared without the `./`. */
function normalize(prefix: string): string {
  return prefix.replace(/^(\.\/)+/, '');
}

/** For a pattern that matches nothing: a few of the keys that are there, so the glob can be fixed. */
async function describeWhatIsThere(repository: Repository, prefix: string): Promise<string> {
  const objects = await repository.listForeignObjects(prefix);
  if (objects.length === 0) return `there is nothing under "${prefix}" at all`;
  const sample = objects.slice(0, 5).map((object) => object.key);
  return `under "${prefix}" there are ${objects.length} object(s), e.g. ${sample.join(', ')}`;
}

/** The matching objects, newest first (by modification time, then key). */
export async function listExistingBackups(drill: DrillConfig, repository: Repository): Promise<ForeignObject[]> {
  const existing = drill.backup.existing;
  if (!existing) return [];
  const prefix = normalize(existing.prefix);
  const matches = (key: string) => matchesGlob(key.slice(prefix.length).replace(/^\/+/, ''), existing.pattern);
  return (await repository.listForeignObjects(prefix, matches)).sort((a, b) => b.modifiedAt.getTime() - a.modifiedAt.getTime() || (a.key < b.key ? 1 : -1));
}

function manifestFor(drill: DrillConfig, repository: Repository, object: ExistingObject): Manifest {
  const at = object.modifiedAt.toISOString();
  const manifest: Manifest & { [EXISTING]?: ExistingObject } = {
    formatVersion: MANIFEST_FORMAT_VERSION,
    backupId: object.key,
    drill: drill.name,
    createdAt: at,
    completedAt: at,
    firedrillVersion: FIREDRILL_VERSION,
    targets: [
      {
        name: SINGLE_TARGET_NAME,
        engine: 'postgres',
        // The newest the data can be: the object was complete when it was last modified.
        snapshotAt: at,
        snapshotAtLocal: at,
        metadata: { origin: 'existing', object: object.key, source: { description: `${object.key} in ${repository.describe()}` } },
      },
    ],
    // Size as listed; the SHA-256 is learned on download and filled in then, for the report.
    objects: [{ name: object.key, target: SINGLE_TARGET_NAME, sizeBytes: object.sizeBytes, sha256: '' }],
  };
  manifest[EXISTING] = object;
  return manifest;
}
