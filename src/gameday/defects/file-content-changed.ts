import type { Defect } from '../defect.ts';
import { archiveNotApplicable, filesArchive, largestFile, rewriteArchive } from '../archive-rewrite.ts';

/**
 * Silent corruption inside the archive (bits changed between archiving and
 * storing, a faulty tar writer): one file's content differs by one byte,
 * its size unchanged, and the manifest was written for the object as it is,
 * so the integrity check passes. Only hashing the restored file against the
 * index's SHA-256 can tell. The largest file is changed (ties: the first by
 * name): chosen the same way every time, so a gameday's result repeats.
 */
export const fileContentChanged: Defect = {
  id: 'file-content-changed',
  description: "one byte of a file's content changed in the stored archive (its size and the manifest's SHA-256 match)",
  notApplicable: (context) => archiveNotApplicable(context, 'non-empty'),
  async apply(context, copy) {
    const archive = filesArchive(context.manifest, 'non-empty');
    if (!archive) throw new Error('the backup has no files archive to damage');
    const file = await largestFile(context, copy, archive, 'non-empty');
    const offset = Math.floor(file.size / 2);
    context.logger.info({ target: archive.target, path: file.path, sizeBytes: file.size, offset }, 'gameday: changing one byte of the largest file in the archive');
    await rewriteArchive(context, copy, archive, file.path, { kind: 'flip-byte', offset });
    return {};
  },
  suggestion: () =>
    'add a files check that verifies the content of every file (checks: [{ type: files, sample: all }]; all is the default), or a larger sample: ' +
    "it hashes each restored file and compares it with the SHA-256 in the backup's index",
};
