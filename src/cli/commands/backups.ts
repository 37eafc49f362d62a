import { formatBytes, formatTime, renderTable, type Output } from '../output.ts';
import { openSession, selectValidDrills, type GlobalOptions } from '../session.ts';
import { repositoryFor } from '../../repository/registry.ts';
import { totalSizeBytes } from '../../repository/manifest.ts';
import { EXIT } from '../exit-codes.ts';

/** `firedrill backups <drill>`: newest first; incomplete and invalid ones are shown but never counted as backups. */
export async function backupsCommand(name: string, flags: { json?: boolean }, global: GlobalOptions, output: Output): Promise<number> {
  const { runner, loaded } = await openSession(global, { resolveSecrets: false, defaultLogLevel: 'warn' });
  const [drill] = selectValidDrills(loaded, [name]);
  if (!drill) return EXIT.ERROR;
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
