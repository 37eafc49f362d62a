import { formatBytes, formatTime, renderTable, type Output } from '../output.ts';
import { openSession, selectDrills, type GlobalOptions } from '../session.ts';
import { repositoryFor } from '../../repository/registry.ts';
import { totalSizeBytes } from '../../repository/manifest.ts';
import { EXIT } from '../exit-codes.ts';

/** `firedrill backups <drill>`: newest first; incomplete and invalid ones are shown but never counted as backups. */
export async function backupsCommand(name: string, flags: { json?: boolean }, global: GlobalOptions, output: Output): Promise<number> {
  const { runner, loaded } = await openSession(global, { resolveSecrets: false, defaultLogLevel: 'warn' });
  const [drill] = selectDrills(loaded, [name], false);
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
    formatTime(entry.manifest?.createdAt ?? entry.modifiedAt),
    entry.manifest ? formatBytes(totalSizeBytes(entry.manifest)) : '-',
    entry.status === 'invalid' ? `invalid: ${entry.problem ?? ''}` : entry.status,
  ]);
  output.out(renderTable(['BACKUP ID', 'CREATED', 'SIZE', 'STATUS'], rows));
  output.out(`\n${backups.filter((entry) => entry.status === 'complete').length} complete backup(s) in ${repository.describe()}`);
  return EXIT.PASSED;
}
