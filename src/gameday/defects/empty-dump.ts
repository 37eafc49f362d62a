import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Manifest } from '../../interfaces.ts';
import { encodingStages } from '../../pipeline/object-codec.ts';
import type { Defect } from '../defect.ts';

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
    await pipeline([Readable.from([]), ...(await encodingStages(repository.encoding)), measure, createWriteStream(copy.objectPath(name))], { signal });
    const changed = structuredClone(await copy.readManifest());
    const entry = changed.objects.find((object) => object.name === name);
    if (entry) Object.assign(entry, { sha256: hash.digest('hex'), sizeBytes, contentSizeBytes: 0 });
    await copy.writeManifest(changed);
    return {};
  },
  suggestion: () => 'a restore of an empty dump must fail: that this went unnoticed is a firedrill bug, please report it',
};

/** The object holding a PostgreSQL target's dump. */
function dumpObject(manifest: Manifest): string | undefined {
  const targets = new Set(manifest.targets.filter((target) => target.engine === 'postgres').map((target) => target.name));
  return manifest.objects.find((object) => targets.has(object.target))?.name;
}
