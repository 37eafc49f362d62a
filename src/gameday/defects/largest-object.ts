import type { Manifest, StoredObject } from '../../interfaces.ts';

/** The object most of the backup's data is in: damage there is what a real fault hits most often. */
export function largestObject(manifest: Manifest): StoredObject | undefined {
  return manifest.objects.toSorted((a, b) => b.sizeBytes - a.sizeBytes)[0];
}

/** What a defect says when the integrity check, which every drill has, did not catch damage: never expected. */
export const INTEGRITY_SUGGESTION =
  'every drill verifies each object against the SHA-256 in the manifest before restoring: that this went unnoticed is a firedrill bug, please report it';
