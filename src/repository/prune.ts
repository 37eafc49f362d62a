import type { Repository } from '../interfaces.ts';
import type { Logger } from '../logger.ts';
import { errorMessage } from '../errors.ts';
import { planRetention, type RetentionDecision, type RetentionPolicy } from './retention.ts';

/**
 * Applies a drill's retention policy to its repository. Only complete
 * backups count (an incomplete one is debris for `repair`, an invalid one
 * stays for a person to look at); the newest backup that passed a drill is
 * kept whatever the rules say, so pruning can never leave a drill with only
 * unproven backups.
 */

export interface PruneResult {
  keep: RetentionDecision[];
  remove: RetentionDecision[];
  /** Backup ids actually deleted (none with dryRun). */
  deleted: string[];
  problems: string[];
}

export async function pruneBackups(
  repository: Repository,
  drill: string,
  policy: RetentionPolicy,
  options: { now: Date; dryRun: boolean; logger?: Logger; passedBackup?: string | undefined },
): Promise<PruneResult> {
  const backups = (await repository.listBackups(drill)).filter((entry) => entry.status === 'complete' && entry.manifest);
  const passed = new Set(
    (await repository.listRunResults(drill)).filter((result) => result.status === 'passed' && result.backupId).map((result) => result.backupId as string),
  );
  // The run that prunes has passed, but its result is not stored yet.
  if (options.passedBackup) passed.add(options.passedBackup);
  const plan = planRetention(
    backups.map((entry) => ({ backupId: entry.backupId, createdAt: new Date(entry.manifest?.createdAt ?? entry.modifiedAt), verified: passed.has(entry.backupId) })),
    policy,
    { now: options.now },
  );
  const result: PruneResult = { ...plan, deleted: [], problems: [] };
  if (options.dryRun) return result;
  for (const decision of plan.remove) {
    try {
      await repository.deleteBackup(drill, decision.backupId);
      result.deleted.push(decision.backupId);
      options.logger?.info({ backupId: decision.backupId, reasons: decision.reasons }, 'backup pruned');
    } catch (error) {
      result.problems.push(`cannot delete backup ${decision.backupId}: ${errorMessage(error)}`);
    }
  }
  return result;
}
