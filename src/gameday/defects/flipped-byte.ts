import { open } from 'node:fs/promises';
import type { Defect } from '../defect.ts';
import { INTEGRITY_SUGGESTION, largestObject } from './largest-object.ts';

/** Bit rot, a bad disk, a buggy copy: one byte of the stored data is different. */
export const flippedByte: Defect = {
  id: 'flipped-byte',
  description: 'one byte flipped in the middle of the stored data',
  notApplicable: ({ manifest }) => ((largestObject(manifest)?.sizeBytes ?? 0) > 0 ? undefined : 'the backup has no stored bytes to flip'),
  async apply({ manifest }, copy) {
    const object = largestObject(manifest);
    if (!object) throw new Error('the backup has no object to damage');
    const file = await open(copy.objectPath(object.name), 'r+');
    try {
      const position = Math.floor(object.sizeBytes / 2);
      const byte = Buffer.alloc(1);
      await file.read(byte, 0, 1, position);
      byte[0] = (byte[0] ?? 0) ^ 0x01;
      await file.write(byte, 0, 1, position);
    } finally {
      await file.close();
    }
    return {};
  },
  suggestion: () => INTEGRITY_SUGGESTION,
};
