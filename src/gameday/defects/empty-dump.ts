import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Manifest } from '../../interfaces.ts';
import { encodingStages } from '../../pipeline/object-codec.ts';
import type { Defect } from '../defect.ts';
import { encodingOf } from '../backup-copy.ts';

/**
 * A dump that came out empty (pg_dump stopped before writing, and the upload
 * still "succeeded"): the object holds nothing but the repository's
 * encoding of zero bytes, and the manifest was written for exactly that, so
 * the integrity check passes and only the restore itself can tell.
 */
export const emptyDump: Defect = {
  id: 'empty-dump',
  description: 'the dump is empty (its manifest written for the empty object, so its checksum matches)',
  notApplicable: ({ manifest }) => (dumpObject(manifest) ? undefined : 'the backup has no PostgreSQL dump'),
  async apply({ repository, manifest, signal }, copy) {
    const name = dumpObject(manifest) as string;
    const hash = createHash('sha256');
    let sizeBytes = 0;
    const measure = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        hash.update(chunk);
        sizeBytes += chunk.length;
        done(null, chunk);
      },
    });
    const changed = structuredClone(await copy.readManifest());
    const entry = changed.objects.find((object) => object.name === name);
    if (!entry) throw new Error(`the copy's manifest has no object ${name}`);
    // Encoded the way the object was, so only its emptiness is new.
    const encoding = encodingOf(entry, repository.encoding.encryption?.identity);
    await pipeline([Readable.from([]), ...(await encodingStages(encoding)), measure, createWriteStream(copy.objectPath(name))], { signal });
    Object.assign(entry, { sha256: hash.digest('hex'), sizeBytes, contentSizeBytes: 0 });
    await copy.writeManifest(changed);
    return {};
  },
  suggestion: () => 'a restore of an empty dump must fail: that this went unnoticed is a firedrill bug, please report it',
};

/** The object holding a PostgreSQL target's dump, as its metadata names it. */
function dumpObject(manifest: Manifest): string | undefined {
  const target = manifest.targets.find((candidate) => candidate.engine === 'postgres');
  const name = target?.metadata['object'];
  return typeof name === 'string' ? name : undefined;
}
