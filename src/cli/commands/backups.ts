import { formatBytes, formatTime, renderTable, type Output } from '../output.ts';
import { openSession, selectValidDrills, type GlobalOptions } from '../session.ts';
import { repositoryFor } from '../../repository/registry.ts';
import { totalSizeBytes } from '../../repository/manifest.ts';
import { EXIT } from '../exit-codes.ts';
import { existingRepositoryFor, listExistingBackups } from '../../drill/existing-backup.ts';
import type { DrillConfig } from '../../config/load.ts';
import type { Repository } from '../../interfaces.ts';

/** `firedrill backups <drill>`: newest first; incomplete and invalid ones are shown but never counted as backups. */
export async function backupsCommand(name: string, flags: { json?: boolean }, global: GlobalOptions, output: Output): Promise<number> {
  const { runner, loaded } = await openSession(global, { resolveSecrets: false, defaultLogLevel: 'warn' });
  const [drill] = selectValidDrills(loaded, [name]);
  if (!drill) return EXIT.ERROR;
  if (drill.backup.existing) return existingBackups(drill, existingRepositoryFor(runner, drill), flags, output);
  const repository = repositoryFor(runner, drill);
  const backups = await repository.listBackups(drill.name);
  if (flags.json) {
    output.out(
      JSON.stringify(
        backups.map((entry) => ({
          id: entry.backupId,
          status: entry.status,
          createdAt: entry.manifest?.createdAt ?? null,
          snapshotAt: entry.manifest?.targets[0]?.snapshotAt ?? null,
          sizeBytes: entry.manifest ? totalSizeBytes(entry.manifest) : null,
          ...(entry.problem ? { problem: entry.problem } : {}),
        })),
        null,
        2,
      ),
    );
    return EXIT.PASSED;
  }
  if (backups.length === 0) {
    output.out(`drill "${drill.name}" has no backups in ${repository.describe()}`);
    return EXIT.PASSED;
  }
  const rows = backups.map((entry) => [
    entry.backupId,
    formatTime(entry.manifest?.createdAt ?? timeOfId(entry.backupId) ?? entry.modifiedAt),
    entry.manifest ? formatBytes(totalSizeBytes(entry.manifest)) : '-',
    entry.status === 'invalid' ? `invalid: ${entry.problem ?? ''}` : entry.status,
  ]);
  output.out(renderTable(['BACKUP ID', 'CREATED', 'SIZE', 'STATUS'], rows));
  output.out(`\n${backups.filter((entry) => entry.status === 'complete').length} complete backup(s) in ${repository.describe()}`);
  return EXIT.PASSED;
}

/** Backup ids begin with their creation time, `20261126T031500Z`: the time an incomplete backup was started. */
function timeOfId(backupId: string): Date | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z/.exec(backupId);
  return match ? new Date(`${match[1]}-${match[2]}-${match[3]}T${match[4]}:${match[5]}:${match[6]}Z`) : undefined;
}

/** Backups made elsewhere: the objects the drill's backup.existing matches, newest first. */
async function existingBackups(drill: DrillConfig, repository: Repository, flags: { json?: boolean }, output: Output): Promise<number> {
  const objects = await listExistingBackups(drill, repository);
  if (flags.json) {
    output.out(JSON.stringify(objects.map((object) => ({ id: object.key, status: 'existing', modifiedAt: object.modifiedAt.toISOString(), sizeBytes: object.sizeBytes })), null, 2));
    return EXIT.PASSED;
  }
  const existing = drill.backup.existing;
  if (objects.length === 0) {
    output.out(`drill "${drill.name}" matches no backups in ${repository.describe()} under "${existing?.prefix ?? ''}" matching "${existing?.pattern ?? '*'}"`);
    return EXIT.PASSED;
  }
  output.out(renderTable(['KEY', 'MODIFIED', 'SIZE'], objects.map((object) => [object.key, formatTime(object.modifiedAt), formatBytes(object.sizeBytes)])));
  const rule = { latest: 'the newest', oldest: 'the oldest', random: 'one at random' }[existing?.select ?? 'latest'];
  const window = existing?.window !== undefined ? ` within backup.existing.window` : '';
  output.out(`\n${objects.length} backup(s) made elsewhere in ${repository.describe()}; a run drills ${rule}${window}, --from-backup latest the newest`);
  return EXIT.PASSED;
}
