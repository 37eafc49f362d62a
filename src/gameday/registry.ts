import type { Defect } from './defect.ts';
import { flippedByte } from './defects/flipped-byte.ts';
import { truncatedObject } from './defects/truncated-object.ts';
import { manifestChecksum } from './defects/manifest-checksum.ts';
import { manifestCounts } from './defects/manifest-counts.ts';
import { emptyDump } from './defects/empty-dump.ts';
import { missingExtension } from './defects/missing-extension.ts';
import { wrongIdentity } from './defects/wrong-identity.ts';
import { staleBackup } from './defects/stale-backup.ts';
import { tableDataMissing } from './defects/table-data-missing.ts';
import { indexMissing } from './defects/index-missing.ts';
import { fileContentChanged } from './defects/file-content-changed.ts';
import { fileMissing } from './defects/file-missing.ts';

/** Every defect a gameday tries, in the order it tries them. Adding one: a file in defects/ and a line here. */
export const DEFECTS: readonly Defect[] = [flippedByte, truncatedObject, manifestChecksum, manifestCounts, emptyDump, tableDataMissing, indexMissing, fileContentChanged, fileMissing, wrongIdentity, missingExtension, staleBackup];
