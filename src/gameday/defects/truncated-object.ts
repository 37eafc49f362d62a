import { truncate } from 'node:fs/promises';
import type { Defect } from '../defect.ts';
import { INTEGRITY_SUGGESTION, largestObject } from './largest-object.ts';

/** An upload or copy that stopped halfway: the stored object is cut short. */
export const truncatedObject: Defect = {
  id: 'truncated-object',
  description: 'the stored data cut to half its size',
  notApplicable: ({ manifest }) => ((largestObject(manifest)?.sizeBytes ?? 0) > 1 ? undefined : 'the backup has no stored bytes to cut'),
  async apply({ manifest }, copy) {
    const object = largestObject(manifest);
    if (!object) throw new Error('the backup has no object to damage');
    await truncate(copy.objectPath(object.name), Math.floor(object.sizeBytes / 2));
    return {};
  },
  suggestion: () => INTEGRITY_SUGGESTION,
};
