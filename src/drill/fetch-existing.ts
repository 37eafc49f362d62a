import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import type { Repository } from '../interfaces.ts';
import type { DrillRunContext } from './run-context.ts';
import type { Manifest } from '../repository/manifest.ts';
import type { ExistingObject } from './existing-backup.ts';
import { HashingStream } from '../pipeline/hashing.ts';
import { DecodeError, decodeObject } from '../pipeline/object-codec.ts';
import { AbortedError, ConfigError, FiredrillError, IntegrityError, RepositoryError, RestoreError, errorMessage } from '../errors.ts';
import type { Compression } from '../pipeline/compression.ts';
import { createWorkDirectory } from '../pipeline/work-directory.ts';
import { recipientsOfIdentity } from '../pipeline/encryption.ts';

/**
 * A backup made elsewhere, fetched into a temp dir: downloaded while hashed,
 * decrypted when it is an age file, decompressed as its first bytes say, then, for a tar of a directory dump, unpacked with nothing
 * allowed outside the directory. Returns what the restore reads: a file, or
 * the directory of a directory-format dump.
 */

export interface FetchedExisting {
  path: string;
  format: 'custom' | 'plain' | 'directory';
  sizeBytes: number;
  sha256: string;
  encrypted: boolean;
  compression: Compression;
}

const AGE_HEADER = Buffer.from('age-encryption.org/v1');

export async function fetchExisting(context: DrillRunContext, drill: { file: string }, manifest: Manifest, object: ExistingObject, repository: Repository): Promise<FetchedExisting> {
  const work = await createWorkDirectory('fetch');
  const directory = work.path;
  context.releasers.add(`fetched backup in ${directory}`, () => work.release());
  const what = `${object.key} in ${repository.describe()}`;
  try {
    // 1. Download and hash; 2. decrypt when it is an age file.
    const downloaded = join(directory, 'downloaded');
    const hashing = new HashingStream();
    await pipeline(await repository.readForeignObject(object.key), hashing, createWriteStream(downloaded, { mode: 0o600 }), { signal: context.signal });
    if (hashing.sizeBytes !== object.sizeBytes) {
      throw new RepositoryError(`${what} changed while it was being read (listed with ${object.sizeBytes} bytes, read ${hashing.sizeBytes}); run the drill again`);
    }
    manifest.objects[0] = { ...(manifest.objects[0] as Manifest['objects'][number]), sha256: hashing.sha256 };
    const encrypted = (await readHead(downloaded, AGE_HEADER.length)).equals(AGE_HEADER);
    let decrypted = downloaded;
    if (encrypted) {
      if (!object.identity) {
        throw new ConfigError([{ file: drill.file, path: 'backup.existing.encryption.identity', message: `is needed: ${what} is age-encrypted` }]);
      }
      try {
        await recipientsOfIdentity(object.identity);
      } catch (error) {
        if (error instanceof FiredrillError) throw error;
        throw new ConfigError([{ file: drill.file, path: 'backup.existing.encryption.identity', message: `(from ${object.identity.origin}) is not a usable age identity: ${errorMessage(error)}` }]);
      }
      decrypted = join(directory, 'decrypted');
      const encryption = { format: 'age' as const, recipients: [] };
      await decodeObject([createReadStream(downloaded)], { compression: 'none', encryption }, object.identity, createWriteStream(decrypted, { mode: 0o600 }), context.signal);
      await rm(downloaded, { force: true });
    }

    // 3. Decompress as configured, or as the first bytes say.
    const compression = object.compression === 'auto' ? await sniffCompression(decrypted) : object.compression;
    let decompressed = decrypted;
    if (compression !== 'none') {
      decompressed = join(directory, 'decompressed');
      await decodeObject([createReadStream(decrypted)], { compression }, undefined, createWriteStream(decompressed, { mode: 0o600 }), context.signal);
      await rm(decrypted, { force: true });
    }

    // 4. A tar of a directory dump becomes that directory again.
    if (object.format === 'directory-tar') {
      const unpacked = join(directory, 'dump');
      await unpackDirectoryDump(decompressed, unpacked, what, context.signal);
      await rm(decompressed, { force: true });
      return { path: unpacked, format: 'directory', sizeBytes: hashing.sizeBytes, sha256: hashing.sha256, encrypted, compression };
    }
    return { path: decompressed, format: object.format, sizeBytes: hashing.sizeBytes, sha256: hashing.sha256, encrypted, compression };
  } catch (error) {
    if (context.signal.aborted) throw new AbortedError();
    throw explain(error, what, object);
  }
}

function explain(error: unknown, what: string, object: ExistingObject): Error {
  if (error instanceof DecodeError) {
    if (error.stage === 'decrypt' && /no identity matched/i.test(errorMessage(error))) {
      return new RestoreError(
        `cannot decrypt ${what}: the identity from ${object.identity?.origin ?? 'the configuration'} is not one it was encrypted to. Set backup.existing.encryption.identity to the matching key`,
        { cause: error },
      );
    }
    return new IntegrityError(`${what} cannot be read back: ${errorMessage(error)}. It is damaged, or not what backup.existing says (compression, format)`, { cause: error });
  }
  if (error instanceof FiredrillError) return error;
  return new RepositoryError(`cannot fetch ${what}: ${errorMessage(error)}`, { cause: error });
}

async function readHead(path: string, count: number): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(count), 0, count, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

async function sniffCompression(path: string): Promise<Compression> {
  const head = await readHead(path, 4);
  if (head.subarray(0, 2).equals(Buffer.from([0x1f, 0x8b]))) return 'gzip';
  if (head.equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))) return 'zstd';
  return 'none';
}

/**
 * A pg_dump directory holds flat files (toc.dat, <n>.dat[.gz]), under
 * whatever directories the tar was made from; each is written by its own
 * name into the target. Anything else (links, devices, `..`, absolute paths,
 * two files of the same name) is refused, so a crafted tar cannot write
 * outside the target.
 */
async function unpackDirectoryDump(tarPath: string, target: string, what: string, signal: AbortSignal): Promise<void> {
  await mkdir(target, { mode: 0o700 });
  const extract = tar.extract();
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      const parts = header.name.split('/').filter((part) => part !== '' && part !== '.');
      if (header.type === 'directory' && !parts.includes('..')) {
        stream.resume();
        return next();
      }
      const name = parts.at(-1) ?? '';
      if (header.type !== 'file' || parts.includes('..') || !/^[A-Za-z0-9._-]+$/.test(name) || header.name.startsWith('/')) {
        const refused = new IntegrityError(`${what} holds "${header.name}" (${header.type ?? 'unknown'}), which no pg_dump directory has; refusing to unpack it`);
        // Destroying the extractor destroys this entry's stream too: its error is this one, already handled.
        stream.on('error', () => undefined);
        reject(refused);
        extract.destroy(refused);
        return;
      }
      pipeline(stream, createWriteStream(join(target, name), { flags: 'wx', mode: 0o600 }), { signal }).then(
        () => next(),
        (error: Error) => {
          // Two files of one name (`wx`), or a full disk: the entry's own error is the cause.
          reject(error);
          extract.destroy(error);
        },
      );
    });
    extract.once('finish', resolve);
    extract.once('error', reject);
  });
  const [unpacked] = await Promise.allSettled([done, pipeline(createReadStream(tarPath), extract, { signal })]);
  // The entry's own verdict first: the pipeline only reports that the extractor was stopped.
  if (unpacked.status === 'rejected') throw unpacked.reason;
}
