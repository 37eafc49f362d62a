import { createReadStream } from 'node:fs';
import { type FileHandle, mkdir, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { z } from 'zod';
import type { BackupEntry, BackupWriter, ForeignObject, RepairResult, Repository, StoredRunResult } from '../interfaces.ts';
import { IntegrityError, RepositoryError, errorMessage } from '../errors.ts';
import { MANIFEST_FILE, serializeManifest, type Manifest } from './manifest.ts';
import { RUN_RESULTS_DIRECTORY, assertSafeName, isBackupId, deletedWhileReading, parseManifest, parseRunResult } from './repository-names.ts';
import { checkCompressionLevel, storageEncodingFields, type StorageEncoding } from '../pipeline/object-codec.ts';
import { describeIncomplete, keepMarker, readMarker } from '../pipeline/owner-marker.ts';
import { DurableFileWriter } from './durable-file.ts';
import { writeFileAtomically } from '../atomic-file.ts';
import { mapLimited } from '../concurrency.ts';
import { isId } from '../drill/ids.ts';

/**
 * Written when a backup starts, kept alive while it is written, removed at its
 * commit: who writes it, and that they still do (see owner-marker.ts for when
 * an incomplete backup counts as debris).
 */
const IN_PROGRESS_FILE = '.in-progress';

export const localRepositorySchema = z
  .strictObject({
    type: z.literal('local').describe('Backups in a directory on this machine.'),
    path: z.string().min(1).describe('Root directory; relative paths resolve against the working directory. Holds <drill>/<backupId>/.'),
    ...storageEncodingFields,
  })
  .superRefine(checkCompressionLevel)
  .describe('A directory on this machine (or a mounted volume).');

export type LocalRepositoryConfig = z.output<typeof localRepositorySchema>;

/**
 * Backups as directories: `<root>/<drill>/<backupId>/` with the data objects
 * and `manifest.json`. Objects are written and fsynced first; the manifest is
 * written to a temporary name, fsynced and renamed into place, so a backup
 * either has a complete manifest or none. Files are 0600 and directories 0700:
 * a backup holds all of a database's data.
 */
export class LocalRepository implements Repository {
  readonly type = 'local';
  readonly name: string;
  readonly root: string;
  readonly encoding: StorageEncoding;

  constructor(name: string, config: LocalRepositoryConfig, options: { cwd: string }) {
    this.name = name;
    this.root = resolve(options.cwd, config.path);
    this.encoding = config;
  }

  describe(): string {
    return `local repository "${this.name}" at ${this.root}`;
  }

  async preflight(drill: string): Promise<void> {
    const directory = this.#drillDirectory(drill);
    const probe = join(directory, `.write-test-${randomBytes(4).toString('hex')}`);
    try {
      await mkdir(directory, { recursive: true, mode: 0o700 });
      const handle = await open(probe, 'wx', 0o600);
      await handle.close();
      await unlink(probe);
    } catch (error) {
      throw new RepositoryError(
        `cannot write to ${this.describe()} (${errorCode(error)} at ${directory}); check that the path exists on a writable volume and firedrill may write there`,
        { cause: error },
      );
    }
  }

  async startBackup(drill: string, backupId: string): Promise<BackupWriter> {
    assertSafeName(backupId, 'backup id');
    const directory = join(this.#drillDirectory(drill), backupId);
    try {
      await mkdir(this.#drillDirectory(drill), { recursive: true, mode: 0o700 });
      await mkdir(directory, { mode: 0o700 });
    } catch (error) {
      throw new RepositoryError(`cannot create backup directory ${directory} in ${this.describe()}: ${errorMessage(error)}`, { cause: error });
    }
    let stopHeartbeat: () => void;
    try {
      stopHeartbeat = await keepMarker(join(directory, IN_PROGRESS_FILE));
    } catch (error) {
      await rm(directory, { recursive: true, force: true });
      throw new RepositoryError(`cannot write to backup directory ${directory} in ${this.describe()}: ${errorMessage(error)}`, { cause: error });
    }
    return new LocalBackupWriter(directory, this.describe(), stopHeartbeat);
  }

  async removeAbandoned(drill: string): Promise<RepairResult> {
    const result: RepairResult = { removed: [], abortedUploads: [], problems: [], warnings: [] };
    for (const entry of await this.listBackups(drill)) {
      if (entry.status !== 'incomplete' || !entry.abandoned) continue;
      const directory = join(this.#drillDirectory(drill), entry.backupId);
      try {
        // Judged a moment ago: make sure it did not get its manifest since.
        if (await stat(join(directory, MANIFEST_FILE)).then(() => true, () => false)) continue;
        await rm(directory, { recursive: true, force: true });
        result.removed.push(entry.backupId);
      } catch (error) {
        result.problems.push(`cannot remove incomplete backup ${directory}: ${errorMessage(error)}`);
      }
    }
    return result;
  }

  async listBackups(drill: string): Promise<BackupEntry[]> {
    const directory = this.#drillDirectory(drill);
    let names: string[];
    try {
      names = (await readdir(directory, { withFileTypes: true })).filter((entry) => entry.isDirectory() && isBackupId(entry.name)).map((entry) => entry.name);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new RepositoryError(`cannot list backups of drill "${drill}" in ${this.describe()}: ${errorMessage(error)}`, { cause: error });
    }
    const entries = (await Promise.all(names.map((backupId) => this.#entry(drill, backupId)))).filter((entry) => entry !== undefined);
    return entries.sort((a, b) => (a.backupId < b.backupId ? 1 : -1));
  }

  /** One backup directory as an entry; undefined when it vanished while being looked at (another run removed it). */
  async #entry(drill: string, backupId: string): Promise<BackupEntry | undefined> {
    const directory = join(this.#drillDirectory(drill), backupId);
    try {
      const manifest = await this.readManifest(drill, backupId);
      return { backupId, status: 'complete', manifest, modifiedAt: (await stat(join(directory, MANIFEST_FILE))).mtime };
    } catch (error) {
      const modifiedAt = await stat(directory).then((found) => found.mtime, () => undefined);
      if (!modifiedAt) return undefined;
      if ((error as { cause?: NodeJS.ErrnoException }).cause?.code !== 'ENOENT') {
        return { backupId, status: 'invalid', problem: errorMessage(error), modifiedAt };
      }
      const { owner, abandoned, silentMs } = await readMarker(join(directory, IN_PROGRESS_FILE));
      return {
        backupId,
        status: 'incomplete',
        abandoned,
        problem: await describeIncomplete(owner, silentMs, abandoned),
        modifiedAt,
      };
    }
  }

  async readManifest(drill: string, backupId: string): Promise<Manifest> {
    assertSafeName(backupId, 'backup id');
    const path = join(this.#drillDirectory(drill), backupId, MANIFEST_FILE);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
      throw new RepositoryError(
        missing
          ? `backup ${backupId} of drill "${drill}" has no manifest in ${this.describe()}: it is incomplete and cannot be restored`
          : `cannot read ${path}: ${errorMessage(error)}`,
        { cause: error },
      );
    }
    return parseManifest(text, path);
  }

  async readObject(drill: string, backupId: string, objectName: string): Promise<Readable> {
    const path = this.#objectPath(drill, backupId, objectName);
    try {
      return await openForReading(path);
    } catch (error) {
      if ((error as { cause?: NodeJS.ErrnoException }).cause?.code !== 'ENOENT') throw error;
      const manifestThere = await stat(join(this.#drillDirectory(drill), backupId, MANIFEST_FILE)).then(() => true, () => false);
      if (!manifestThere) throw deletedWhileReading(drill, backupId, this.describe(), error);
      throw new IntegrityError(`object ${objectName} of backup ${backupId} is missing from ${this.describe()} (${path}); the backup is damaged`, { cause: error });
    }
  }

  localObjectPath(drill: string, backupId: string, objectName: string): string {
    return this.#objectPath(drill, backupId, objectName);
  }

  async deleteBackup(drill: string, backupId: string): Promise<void> {
    assertSafeName(backupId, 'backup id');
    const directory = join(this.#drillDirectory(drill), backupId);
    try {
      await rm(join(directory, MANIFEST_FILE), { force: true });
      await rm(directory, { recursive: true, force: true });
    } catch (error) {
      throw new RepositoryError(`cannot delete backup ${directory} in ${this.describe()}: ${errorMessage(error)}`, { cause: error });
    }
  }

  async saveRunResult(drill: string, runId: string, json: string): Promise<void> {
    assertSafeName(runId, 'run id');
    const directory = join(this.#drillDirectory(drill), RUN_RESULTS_DIRECTORY);
    const path = join(directory, `${runId}.json`);
    try {
      await mkdir(directory, { recursive: true, mode: 0o700 });
      await writeFileAtomically(path, json, { mode: 0o600 });
    } catch (error) {
      throw new RepositoryError(`cannot write the run result ${path} in ${this.describe()}: ${errorMessage(error)}`, { cause: error });
    }
  }

  async listRunResults(drill: string): Promise<StoredRunResult[]> {
    const directory = join(this.#drillDirectory(drill), RUN_RESULTS_DIRECTORY);
    const names = await readdir(directory).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return [] as string[];
      throw new RepositoryError(`cannot list run results in ${directory}: ${errorMessage(error)}`, { cause: error });
    });
    // A result that cannot be read fails the listing: retention must not judge from part of the history.
    const results = await mapLimited(
      names.filter((name) => name.endsWith('.json')),
      16,
      async (name) => {
        const path = join(directory, name);
        try {
          return parseRunResult(await readFile(path, 'utf8'));
        } catch (error) {
          throw new RepositoryError(`cannot read the run result ${path}: ${errorMessage(error)}`, { cause: error });
        }
      },
    );
    return results.filter((result) => result !== undefined);
  }

  async listRunIds(drill: string): Promise<string[]> {
    const directory = join(this.#drillDirectory(drill), RUN_RESULTS_DIRECTORY);
    const names = await readdir(directory).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return [] as string[];
      throw new RepositoryError(`cannot list run results in ${directory}: ${errorMessage(error)}`, { cause: error });
    });
    return names
      .filter((name) => name.endsWith('.json'))
      .map((name) => name.slice(0, -'.json'.length))
      .filter(isId);
  }

  async readRunResult(drill: string, runId: string): Promise<string> {
    assertSafeName(runId, 'run id');
    const path = join(this.#drillDirectory(drill), RUN_RESULTS_DIRECTORY, `${runId}.json`);
    try {
      return await readFile(path, 'utf8');
    } catch (error) {
      throw new RepositoryError(`cannot read the run result ${path} in ${this.describe()}: ${errorMessage(error)}`, { cause: error });
    }
  }

  async listForeignObjects(prefix: string, accept: (key: string) => boolean = () => true): Promise<ForeignObject[]> {
    const start = this.#foreignPath(prefix);
    const found: ForeignObject[] = [];
    let entries;
    try {
      entries = await readdir(start, { recursive: true, withFileTypes: true });
    } catch (error) {
      throw new RepositoryError(`cannot list ${start} in ${this.describe()}: ${errorMessage(error)}`, { cause: error });
    }
    for (const entry of entries) {
      if (!entry.isFile()) continue;
      const path = join(entry.parentPath, entry.name);
      const key = relative(this.root, path);
      if (!accept(key)) continue;
      const facts = await stat(path).catch(() => undefined);
      if (facts) found.push({ key, sizeBytes: facts.size, modifiedAt: facts.mtime });
    }
    return found;
  }

  async readForeignObject(key: string): Promise<Readable> {
    return openForReading(this.#foreignPath(key));
  }

  /** A path under the root; a key that climbs out of it is refused. */
  #foreignPath(key: string): string {
    const path = resolve(this.root, key);
    if (path !== this.root && !path.startsWith(`${this.root}${sep}`)) {
      throw new RepositoryError(`"${key}" is outside ${this.describe()}; keys of existing backups are relative to its path`);
    }
    return path;
  }

  #drillDirectory(drill: string): string {
    assertSafeName(drill, 'drill name');
    return join(this.root, drill);
  }

  #objectPath(drill: string, backupId: string, objectName: string): string {
    assertSafeName(backupId, 'backup id');
    assertSafeName(objectName, 'object name');
    return join(this.#drillDirectory(drill), backupId, objectName);
  }
}

class LocalBackupWriter implements BackupWriter {
  readonly #directory: string;
  readonly #repository: string;
  readonly #stopHeartbeat: () => void;
  #committed = false;

  constructor(directory: string, repository: string, stopHeartbeat: () => void) {
    this.#directory = directory;
    this.#repository = repository;
    this.#stopHeartbeat = stopHeartbeat;
  }

  async writeObject(objectName: string, body: Readable, signal: AbortSignal): Promise<void> {
    const path = this.#objectPath(objectName);
    try {
      // The object is on disk (fsynced) before the stream finishes, so before the manifest can name it.
      await pipeline(body, new DurableFileWriter(path, { mode: 0o600 }), { signal });
    } catch (error) {
      if (signal.aborted) throw error;
      throw new RepositoryError(`cannot write ${path} in ${this.#repository}: ${errorMessage(error)}`, { cause: error });
    }
  }

  async openObjectFile(objectName: string): Promise<FileHandle> {
    const path = this.#objectPath(objectName);
    try {
      // Exclusive: an object is never overwritten.
      return await open(path, 'wx+', 0o600);
    } catch (error) {
      throw new RepositoryError(`cannot create ${path} in ${this.#repository}: ${errorMessage(error)}`, { cause: error });
    }
  }

  #objectPath(objectName: string): string {
    assertSafeName(objectName, 'object name');
    if (objectName === MANIFEST_FILE) throw new RepositoryError(`"${MANIFEST_FILE}" is reserved and cannot be an object name`);
    return join(this.#directory, objectName);
  }

  async commit(manifest: Manifest): Promise<void> {
    const temporary = join(this.#directory, `.${MANIFEST_FILE}.tmp`);
    const final = join(this.#directory, MANIFEST_FILE);
    try {
      const handle = await open(temporary, 'wx', 0o600);
      try {
        await handle.writeFile(serializeManifest(manifest));
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temporary, final);
    } catch (error) {
      throw new RepositoryError(`cannot write the manifest ${final} in ${this.#repository}: ${errorMessage(error)}`, { cause: error });
    }
    // From here the backup is visible as complete: nothing below may delete it.
    this.#committed = true;
    this.#stopHeartbeat();
    await rm(join(this.#directory, IN_PROGRESS_FILE), { force: true }).catch(() => undefined);
    try {
      await syncDirectory(this.#directory);
    } catch (error) {
      throw new RepositoryError(
        `backup ${final} was written, but its directory could not be synced to disk (${errorMessage(error)}); it may not survive a crash of this machine`,
        { cause: error },
      );
    }
  }

  async abort(): Promise<void> {
    this.#stopHeartbeat();
    if (this.#committed) return;
    await rm(this.#directory, { recursive: true, force: true });
  }
}

/** After a rename, the directory entry itself must reach the disk for the manifest to survive a crash. */
async function syncDirectory(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function openForReading(path: string): Promise<Readable> {
  const stream = createReadStream(path, { highWaterMark: 1024 * 1024 });
  await new Promise<void>((resolveOpen, rejectOpen) => {
    stream.once('open', () => resolveOpen());
    stream.once('error', (error) => rejectOpen(new RepositoryError(`cannot read ${path}: ${errorMessage(error)}`, { cause: error })));
  });
  return stream;
}

function errorCode(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? errorMessage(error);
}
