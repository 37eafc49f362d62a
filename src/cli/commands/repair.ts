import type { Output } from '../output.ts';
import { openSession, selectDrillsForHousekeeping, type GlobalOptions } from '../session.ts';
import { repositoryFor } from '../../repository/registry.ts';
import { errorMessage } from '../../errors.ts';
import { EXIT } from '../exit-codes.ts';

/**
 * `firedrill repair [drills...]`: in each drill's repository, removes
 * incomplete backups whose writer is gone for good and aborts the multipart
 * uploads they left (parts cost storage and are invisible in a listing).
 * Backups being written right now, and every complete backup, are untouched.
 * Every backup start does the same for its own drill.
 */
export async function repairCommand(names: string[], global: GlobalOptions, output: Output): Promise<number> {
  const { runner, loaded } = await openSession(global, { resolveSecrets: false, defaultLogLevel: 'warn' });
  const { drills, skipped } = selectDrillsForHousekeeping(loaded, names, (line) => output.err(line));
  let failed = skipped;
  for (const drill of drills) {
    if (drill.backup.existing) {
      output.out(`${drill.name}: drills backups made elsewhere and writes none; nothing to repair`);
      continue;
    }
    const repository = repositoryFor(runner, drill);
    try {
      const result = await repository.removeAbandoned(drill.name);
      for (const backupId of result.removed) output.out(`${drill.name}: removed incomplete backup ${backupId}`);
      for (const key of result.abortedUploads) output.out(`${drill.name}: aborted multipart upload of ${key}`);
      for (const warning of result.warnings) output.err(`firedrill: ${drill.name}: warning: ${warning}`);
      for (const problem of result.problems) output.err(`firedrill: ${drill.name}: ${problem}`);
      failed ||= result.problems.length > 0;
      output.out(`${drill.name}: ${result.removed.length} incomplete backup(s) removed, ${result.abortedUploads.length} upload(s) aborted in ${repository.describe()}`);
      // Say what was left and why: a backup still being written, or one whose dead writer is not yet silent long enough.
      for (const entry of await repository.listBackups(drill.name)) {
        if (entry.status === 'incomplete') output.out(`${drill.name}: kept incomplete backup ${entry.backupId}: ${entry.problem ?? 'no manifest'}`);
      }
    } catch (error) {
      output.err(`firedrill: ${drill.name}: ${errorMessage(error)}`);
      failed = true;
    }
  }
  return failed ? EXIT.ERROR : EXIT.PASSED;
}
