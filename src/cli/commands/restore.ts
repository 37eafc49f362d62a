import type { Output } from '../output.ts';
import { formatTime } from '../output.ts';
import { assertBackupExists, openSession, selectValidDrills, type GlobalOptions } from '../session.ts';
import { restoreDrillBackup, type RestoredForUse } from '../../drill/restore-drill.ts';
import { EXIT } from '../exit-codes.ts';
import { onAbort } from '../../abort.ts';

export interface RestoreFlags {
  backup?: string;
  keep?: boolean;
}

/**
 * `firedrill restore <drill> [--backup ID] [--keep]`: restores a backup into
 * a sandbox. Without --keep it proves the backup restores and removes the
 * sandbox; with --keep it prints how to connect and leaves it up.
 */
export async function restoreCommand(name: string, flags: RestoreFlags, global: GlobalOptions, output: Output, signal: AbortSignal): Promise<number> {
  // Restoring reads the repository, never the source: the source's secrets are not needed.
  const session = await openSession(global, { resolveSecrets: false });
  const [drill] = selectValidDrills(session.loaded, [name]);
  if (!drill) return EXIT.ERROR;
  if (flags.backup !== undefined && flags.backup !== 'latest') await assertBackupExists(session.runner, [drill], flags.backup);
  const keep = Boolean(flags.keep);
  const restored = await restoreDrillBackup(drill, {
    runner: session.runner,
    logger: session.logger,
    backupId: flags.backup ?? 'latest',
    keep,
    signal,
    whileRunning: async (running) => {
      output.out(describe(running));
      if (!keep) return;
      output.reveal(`  connect: psql '${running.sandbox.connectionUrl}'`);
      if (running.sandbox.kept) {
        output.out(`  kept: remove it with \`firedrill sandbox rm ${running.sandbox.id}\` (\`firedrill sandbox ls\` lists kept sandboxes)`);
        return;
      }
      // A local cluster is this process's child: it lives as long as firedrill waits here.
      output.out('  a local cluster lives only as long as this command: press Ctrl-C to remove it');
      await new Promise<void>((resolve) => onAbort(signal, resolve));
    },
  });
  if (!restored.sandbox.kept) output.out(keep ? '  sandbox removed' : '  sandbox removed (use --keep to keep it running)');
  return EXIT.PASSED;
}

function describe(restored: RestoredForUse): string {
  const { manifest, sandbox } = restored;
  return [
    `restored backup ${manifest.backupId} of drill "${manifest.drill}" (taken ${formatTime(manifest.createdAt)})`,
    `  into ${sandbox.description}, database "${sandbox.database}", in ${(restored.durationMs / 1000).toFixed(1)}s`,
  ].join('\n');
}
