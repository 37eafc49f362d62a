import type { Defect } from '../defect.ts';
import { archiveNotApplicable, filesArchive, largestFile, rewriteArchive } from '../archive-rewrite.ts';

/**
 * A file the archive lost (skipped by a broken backup tool, cut out of a
 * damaged tar) while the index still lists it, and a manifest written for
 * the object as it is: the integrity check passes and the restore succeeds,
 * one file short. The largest file is left out (ties: the first by name).
 */
export const fileMissing: Defect = {
  id: 'file-missing',
  description: 'one file left out of the stored archive (its index still lists it; the manifest\'s SHA-256 matches)',
  notApplicable: (context) => archiveNotApplicable(context, 'any'),
  async apply(context, copy) {
    const archive = filesArchive(context.manifest, 'any');
    if (!archive) throw new Error('the backup has no files archive to damage');
    const file = await largestFile(context, copy, archive, 'any');
    context.logger.info({ target: archive.target, path: file.path, sizeBytes: file.size }, 'gameday: leaving the largest file out of the archive');
    await rewriteArchive(context, copy, archive, file.path, { kind: 'leave-out' });
    return {};
  },
  suggestion: () => "add a files check (checks: [{ type: files }]): it compares the restored tree with the backup's index",
};
