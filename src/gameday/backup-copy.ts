import { mkdir, readFile } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Manifest, Repository, StorageEncoding, StoredObject } from '../interfaces.ts';
import { MANIFEST_FILE, serializeManifest } from '../repository/manifest.ts';
import { writeFileAtomically } from '../atomic-file.ts';
import { assertSafeName, parseManifest } from '../repository/repository-names.ts';
import type { BackupCopy } from './defect.ts';
import type { Secret } from '../secret.ts';

/**
 * A byte-for-byte copy of one backup (its stored objects as they are, and
 * its manifest) in the layout of a local repository rooted at `root`, so the
 * drill restores it like any backup. Streamed: the copy is as large as the
 * backup, and never in memory.
 */
export async function copyBackup(repository: Repository, drill: string, manifest: Manifest, root: string, signal: AbortSignal): Promise<BackupCopy> {
  const directory = join(root, drill, manifest.backupId);
  await mkdir(directory, { recursive: true, mode: 0o700 });
  for (const object of manifest.objects) {
    // A name from a manifest becomes a path: nothing that could climb out of the copy.
    assertSafeName(object.name, 'object name');
    const source = await repository.readObject(drill, manifest.backupId, object.name);
    await pipeline(source, createWriteStream(join(directory, object.name), { mode: 0o600 }), { signal });
  }
  const manifestPath = join(directory, MANIFEST_FILE);
  await writeFileAtomically(manifestPath, serializeManifest(manifest), { mode: 0o600 });
  return {
    directory,
    objectPath: (objectName) => join(directory, objectName),
    readManifest: async () => parseManifest(await readFile(manifestPath, 'utf8'), manifestPath),
    writeManifest: (changed) => writeFileAtomically(manifestPath, serializeManifest(changed), { mode: 0o600 }),
  };
}

/**
 * How one stored object was encoded, from its manifest entry: an object is
 * rewritten the way it was written, whatever the repository's settings are
 * now (encryption turned on later, another compression).
 */
export function encodingOf(object: StoredObject, identity: Secret | undefined): StorageEncoding {
  return {
    compression: object.compression ?? 'none',
    ...(object.encryption ? { encryption: { recipients: object.encryption.recipients, identity } } : {}),
  };
}
