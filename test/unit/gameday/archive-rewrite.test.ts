import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ObjectSink, Repository } from '../../../src/interfaces.ts';
import type { DrillConfig, RunnerConfig } from '../../../src/config/load.ts';
import { serializeManifest, type Manifest, type StoredObject } from '../../../src/repository/manifest.ts';
import { parseManifest } from '../../../src/repository/repository-names.ts';
import { ByteCounter, decodeObject, encodingRecord, encodingStages, type ObjectEncodingRecord, type StorageEncoding } from '../../../src/pipeline/object-codec.ts';
import { HashingStream, hashFile } from '../../../src/pipeline/hashing.ts';
import { DrillRunContext } from '../../../src/drill/run-context.ts';
import { silentLogger } from '../../../src/logger.ts';
import { backupFiles } from '../../../src/engines/files/files-backup.ts';
import { Secret } from '../../../src/secret.ts';
import type { BackupCopy, DefectContext } from '../../../src/gameday/defect.ts';
import { filesArchive, rewriteArchive } from '../../../src/gameday/archive-rewrite.ts';
import { fileContentChanged } from '../../../src/gameday/defects/file-content-changed.ts';
import { fileMissing } from '../../../src/gameday/defects/file-missing.ts';

/**
 * Rewriting a files target's archive inside a backup stored with zstd and
 * age, as the file defects of a gameday do: the rewritten object decodes to
 * the same tar with exactly the one intended change, and the manifest
 * records the new bytes, so the integrity check would pass on it.
 */

function keypair(): { key: Secret; recipient: string } {
  const generated = execFileSync('age-keygen', { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const recipient = /public key: (age1[0-9a-z]+)/.exec(generated)?.[1] as string;
  const key = generated.split('\n').find((line) => line.startsWith('AGE-SECRET-KEY-')) as string;
  return { key: Secret.fromValue(key, 'test key'), recipient };
}

interface ArchivedEntry {
  name: string;
  type: string;
  size: number;
  mode: number;
  mtime: number;
  linkname: string | null;
  content: Buffer;
}

let base: string;
let copyDirectory: string;
let manifest: Manifest;
let encoding: StorageEncoding;
let identity: Secret;
/** The largest files, the same size: the one first by name is the one chosen. */
const LARGEST = 'alpha/omega.bin';
const LONG_NAME = `${'deep/'.repeat(30)}long-name.txt`;

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'firedrill-archive-rewrite-'));
  const tree = join(base, 'tree');
  await mkdir(join(tree, 'alpha'), { recursive: true });
  await mkdir(join(tree, 'deep'.concat('/deep'.repeat(29))), { recursive: true });
  // Larger than the pieces files are read and stored in: the change lands in the middle of a stream, with back-pressure.
  const large = Buffer.concat([randomBytes(1536 * 1024), Buffer.from('firedrill '.repeat(150_000))]);
  await writeFile(join(tree, LARGEST), large);
  await writeFile(join(tree, 'zeta.bin'), Buffer.from(large).reverse());
  await writeFile(join(tree, 'notes.txt'), 'hello\nworld\n');
  await writeFile(join(tree, 'empty'), '');
  await writeFile(join(tree, 'ünïcödé.txt'), 'unicode');
  await writeFile(join(tree, LONG_NAME), 'far down');
  await symlink('notes.txt', join(tree, 'latest'));

  const keys = keypair();
  identity = keys.key;
  encoding = { compression: 'zstd', encryption: { recipients: [keys.recipient], identity } };
  copyDirectory = join(base, 'copy');
  await mkdir(copyDirectory);
  const sink: ObjectSink = {
    compresses: true,
    write: async (name: string, body: Readable): Promise<StoredObject> => {
      const stored = `${name}.zst.age`;
      const counter = new ByteCounter();
      const hashing = new HashingStream();
      await pipeline([body, counter, ...(await encodingStages(encoding)), hashing, createWriteStream(join(copyDirectory, stored))]);
      return { name: stored, target: 'uploads', sizeBytes: hashing.sizeBytes, sha256: hashing.sha256, contentSizeBytes: counter.sizeBytes, ...encodingRecord(encoding) };
    },
  };
  const objects: StoredObject[] = [];
  const recording: ObjectSink = { compresses: true, write: async (name, body) => (objects.push(await sink.write(name, body)), objects.at(-1) as StoredObject) };
  const run = new DrillRunContext({ runId: 'test', drillName: 'uploads', logger: silentLogger, signal: new AbortController().signal, clock: () => new Date() });
  const target = await backupFiles(run, 'uploads', { paths: [tree], exclude: [], symlinks: 'keep', onUnreadable: 'fail', configuredIn: 'test' }, recording);
  await run.releasers.releaseAll();
  const now = new Date().toISOString();
  manifest = { formatVersion: 1, backupId: 'test-backup', drill: 'uploads', createdAt: now, completedAt: now, firedrillVersion: 'test', targets: [target], objects };
  await writeFile(join(copyDirectory, 'manifest.json'), serializeManifest(manifest));
});

afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

function backupCopy(): BackupCopy {
  const manifestPath = join(copyDirectory, 'manifest.json');
  return {
    directory: copyDirectory,
    objectPath: (name) => join(copyDirectory, name),
    readManifest: async () => parseManifest(await readFile(manifestPath, 'utf8'), manifestPath),
    writeManifest: (changed) => writeFile(manifestPath, serializeManifest(changed)),
  };
}

function defectContext(repositoryEncoding: StorageEncoding = encoding): DefectContext {
  return {
    drill: {} as DrillConfig,
    runner: {} as RunnerConfig,
    repository: { encoding: repositoryEncoding } as Repository,
    manifest,
    logger: silentLogger,
    signal: new AbortController().signal,
  };
}

/** The tar inside a stored object, entry by entry, decoded with the identity. */
async function archivedEntries(path: string, record: ObjectEncodingRecord): Promise<ArchivedEntry[]> {
  const extract = tar.extract();
  const entries: ArchivedEntry[] = [];
  const reading = (async () => {
    for await (const entry of extract) {
      const chunks: Buffer[] = [];
      for await (const chunk of entry as AsyncIterable<Buffer>) chunks.push(chunk);
      const { name, type, size, mode, mtime, linkname } = entry.header;
      entries.push({ name, type, size, mode, mtime: mtime.getTime(), linkname: linkname ?? null, content: Buffer.concat(chunks) });
    }
  })();
  await Promise.all([decodeObject([createReadStream(path)], record, identity, extract as unknown as Writable, new AbortController().signal), reading]);
  return entries;
}

const storedObject = (current: Manifest, name: string) => current.objects.find((object) => object.name === name) as StoredObject;

describe('rewriting the archive of a files target', () => {
  it('changes one byte in the middle of the largest file (first by name) and records the new object in the manifest', async () => {
    const copy = backupCopy();
    const archive = filesArchive(manifest, 'non-empty');
    expect(archive?.archive.name).toBe('uploads.tar.zst.age');
    const archivePath = copy.objectPath('uploads.tar.zst.age');
    const indexBefore = await readFile(copy.objectPath('uploads.files.jsonl.zst.age'));
    const before = await archivedEntries(archivePath, storedObject(manifest, 'uploads.tar.zst.age'));

    expect(fileContentChanged.notApplicable(defectContext())).toBeUndefined();
    await fileContentChanged.apply(defectContext(), copy);

    const changed = await copy.readManifest();
    const entry = storedObject(changed, 'uploads.tar.zst.age');
    const after = await archivedEntries(archivePath, entry);
    expect(after.map(({ content: _content, ...header }) => header)).toEqual(before.map(({ content: _content, ...header }) => header));
    for (const [position, original] of before.entries()) {
      const rewritten = after[position] as ArchivedEntry;
      if (original.name !== LARGEST) {
        expect(rewritten.content.equals(original.content), original.name).toBe(true);
        continue;
      }
      const differing = [...original.content.keys()].filter((offset) => original.content[offset] !== rewritten.content[offset]);
      expect(differing).toEqual([Math.floor(original.content.length / 2)]);
    }
    expect(after.map((archived) => archived.name)).toContain(LONG_NAME);

    // What the restore's integrity check compares: the stored bytes against the manifest.
    expect(await hashFile(archivePath)).toEqual({ sizeBytes: entry.sizeBytes, sha256: entry.sha256 });
    expect(entry.sha256).not.toBe(storedObject(manifest, 'uploads.tar.zst.age').sha256);
    expect(entry.contentSizeBytes).toBe(storedObject(manifest, 'uploads.tar.zst.age').contentSizeBytes);
    expect(entry).toMatchObject({ compression: 'zstd', encryption: { format: 'age', recipients: encoding.encryption?.recipients } });
    expect((await readFile(archivePath)).subarray(0, 21).toString('latin1')).toBe('age-encryption.org/v1');
    // The index, and everything else the manifest says, as they were.
    expect((await readFile(copy.objectPath('uploads.files.jsonl.zst.age'))).equals(indexBefore)).toBe(true);
    expect({ ...changed, objects: changed.objects.filter((object) => object.name !== entry.name) }).toEqual({
      ...manifest,
      objects: manifest.objects.filter((object) => object.name !== entry.name),
    });
    expect((await readdir(copyDirectory)).sort()).toEqual(['manifest.json', 'uploads.files.jsonl.zst.age', 'uploads.tar.zst.age']);
  });

  it('leaves the largest file out and nothing else, the index still listing it', async () => {
    const copy = backupCopy();
    const archivePath = copy.objectPath('uploads.tar.zst.age');
    const before = await archivedEntries(archivePath, storedObject(manifest, 'uploads.tar.zst.age'));
    const original = before.find((archived) => archived.name === LARGEST) as ArchivedEntry;

    expect(fileMissing.notApplicable(defectContext())).toBeUndefined();
    await fileMissing.apply(defectContext(), copy);

    const entry = storedObject(await copy.readManifest(), 'uploads.tar.zst.age');
    const after = await archivedEntries(archivePath, entry);
    expect(after).toEqual(before.filter((archived) => archived.name !== LARGEST));
    expect(await hashFile(archivePath)).toEqual({ sizeBytes: entry.sizeBytes, sha256: entry.sha256 });
    // Its header and its content, padded to whole blocks, are all the tar lost.
    expect(entry.contentSizeBytes).toBe((storedObject(manifest, 'uploads.tar.zst.age').contentSizeBytes as number) - 512 - Math.ceil(original.size / 512) * 512);
  });

  it('fails on a file the archive does not hold, leaving the copy as it was', async () => {
    const copy = backupCopy();
    const archive = filesArchive(manifest, 'any');
    const stored = await readFile(copy.objectPath('uploads.tar.zst.age'));

    await expect(rewriteArchive(defectContext(), copy, archive!, 'no/such/file', { kind: 'leave-out' })).rejects.toThrow(
      'the archive of target "uploads" has no file "no/such/file", which its index lists',
    );

    expect((await readFile(copy.objectPath('uploads.tar.zst.age'))).equals(stored)).toBe(true);
    expect(await copy.readManifest()).toEqual(manifest);
    expect((await readdir(copyDirectory)).sort()).toEqual(['manifest.json', 'uploads.files.jsonl.zst.age', 'uploads.tar.zst.age']);
  });

  it('fails with the decoder\'s reason when the identity is not the backup\'s, leaving the copy as it was', async () => {
    const copy = backupCopy();
    const archive = filesArchive(manifest, 'any');
    const stored = await readFile(copy.objectPath('uploads.tar.zst.age'));
    const wrong: StorageEncoding = { ...encoding, encryption: { recipients: encoding.encryption?.recipients ?? [], identity: keypair().key } };

    await expect(rewriteArchive(defectContext(wrong), copy, archive!, LARGEST, { kind: 'flip-byte', offset: 0 })).rejects.toThrow(
      /^rewriting the archive of target "uploads" failed: age could not decrypt it/,
    );

    expect((await readFile(copy.objectPath('uploads.tar.zst.age'))).equals(stored)).toBe(true);
    expect(await copy.readManifest()).toEqual(manifest);
    expect((await readdir(copyDirectory)).sort()).toEqual(['manifest.json', 'uploads.files.jsonl.zst.age', 'uploads.tar.zst.age']);
  });

  it('is not applicable without the identity that decrypts the archive, nor without files', () => {
    const withoutIdentity: StorageEncoding = { compression: 'zstd', encryption: { recipients: encoding.encryption?.recipients ?? [] } };
    expect(fileContentChanged.notApplicable(defectContext(withoutIdentity))).toBe("the repository's encryption.identity is needed to rewrite the archive");
    expect(fileMissing.notApplicable(defectContext(withoutIdentity))).toBe("the repository's encryption.identity is needed to rewrite the archive");
    const postgres = { ...manifest, targets: [{ ...(manifest.targets[0] as Manifest['targets'][number]), engine: 'postgres' }] };
    expect(fileMissing.notApplicable({ ...defectContext(), manifest: postgres })).toBe('the backup has no files target');
    const emptyFiles = {
      ...manifest,
      targets: [{ ...(manifest.targets[0] as Manifest['targets'][number]), metadata: { ...manifest.targets[0]?.metadata, totalBytes: 0 } }],
    };
    expect(fileContentChanged.notApplicable({ ...defectContext(), manifest: emptyFiles })).toBe('the backup has no files target with a non-empty regular file');
    expect(fileMissing.notApplicable({ ...defectContext(), manifest: emptyFiles })).toBeUndefined();
  });
});
