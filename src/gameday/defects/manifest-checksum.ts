import type { Defect } from '../defect.ts';
import { INTEGRITY_SUGGESTION, largestObject } from './largest-object.ts';

/** A manifest that no longer matches its objects (edited, or from another backup): the recorded SHA-256 is wrong. */
export const manifestChecksum: Defect = {
  id: 'manifest-checksum',
  description: "the manifest's SHA-256 of the stored data tampered with",
  notApplicable: ({ manifest }) => (largestObject(manifest) ? undefined : 'the backup has no objects'),
  async apply({ manifest }, copy) {
    const object = largestObject(manifest);
    const tampered = structuredClone(await copy.readManifest());
    const entry = tampered.objects.find((candidate) => candidate.name === object?.name);
    if (!entry) throw new Error('the backup has no object to tamper with');
    entry.sha256 = `${entry.sha256.slice(0, -1)}${entry.sha256.endsWith('0') ? '1' : '0'}`;
    await copy.writeManifest(tampered);
    return {};
  },
  suggestion: () => INTEGRITY_SUGGESTION,
};
