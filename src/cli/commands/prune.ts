import { formatTime, renderTable, type Output } from '../output.ts';
import { openSession, selectDrillsForHousekeeping, type GlobalOptions } from '../session.ts';
import { repositoryFor } from '../../repository/registry.ts';
import { pruneBackups } from '../../repository/prune.ts';
import { describeRetention } from '../../repository/retention.ts';
import { errorMessage } from '../../errors.ts';
import { EXIT } from '../exit-codes.ts';

export interface PruneFlags {
  dryRun?: boolean;
}

/**
 * `firedrill prune [drills...] [--dry-run]`: applies each drill's retention
 * policy and shows every complete backup with what happens to it and why.
 * Drills without a policy keep everything.
 */
export async function pruneCommand(names: string[], flags: PruneFlags, global: GlobalOptions, output: Output): Promise<number> {
  const { runner, loaded } = await openSession(global, { resolveSecrets: false, defaultLogLevel: 'warn' });
  const { drills, skipped } = selectDrillsForHousekeeping(loaded, names, (line) => output.err(line));
  let failed = skipped;
  for (const drill of drills) {
    if (drill.backup.existing) {
      output.out(`${drill.name}: drills backups made elsewhere; whatever makes them prunes them`);
      continue;
    }
    if (!drill.retention) {
      output.out(`${drill.name}: no retention policy; every backup is kept`);
      continue;
    }
    const repository = repositoryFor(runner, drill);
    try {
      const result = await pruneBackups(repository, drill.name, drill.retention, { now: new Date(), dryRun: flags.dryRun === true });
      const rows = [
        ...result.keep.map((decision) => ({ ...decision, action: 'keep' })),
        ...result.remove.map((decision) => ({ ...decision, action: flags.dryRun ? 'would remove' : result.deleted.includes(decision.backupId) ? 'removed' : 'remove failed' })),
      ].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.backupId < b.backupId ? 1 : -1));
      output.out(`${drill.name}: ${describeRetention(drill.retention)} in ${repository.describe()}`);
      if (rows.length > 0) {
        output.out(renderTable(['BACKUP ID', 'CREATED', 'ACTION', 'WHY'], rows.map((row) => [row.backupId, formatTime(row.createdAt), row.action, row.reasons.join('; ')])));
      }
      const verb = flags.dryRun ? 'would be removed' : 'removed';
      output.out(`${result.keep.length} kept, ${flags.dryRun ? result.remove.length : result.deleted.length} ${verb}\n`);
      for (const problem of result.problems) output.err(`firedrill: ${drill.name}: ${problem}`);
      failed ||= result.problems.length > 0;
    } catch (error) {
      output.err(`firedrill: ${drill.name}: ${errorMessage(error)}`);
      failed = true;
    }
  }
  return failed ? EXIT.ERROR : EXIT.PASSED;
}
