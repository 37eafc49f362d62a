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
      let waitForCtrlC = false;
      for (const target of running.targets) {
        if (target.kind === 'files') {
          output.out(`  ${target.name}: files in ${target.directory}`);
          waitForCtrlC = true;
          continue;
        }
        output.reveal(`  ${target.name}: connect: psql '${target.sandbox.connectionUrl}'`);
        if (target.sandbox.kept) {
          output.out(`  kept: remove it with \`firedrill sandbox rm ${target.sandbox.id}\` (\`firedrill sandbox ls\` lists kept sandboxes)`);
        } else {
          waitForCtrlC = true;
        }
      }
      if (!waitForCtrlC) return;
      // A local cluster is this process's child, and restored files live in its temp dir: they last as long as firedrill waits here.
      output.out('  local clusters and restored files live only as long as this command: press Ctrl-C to remove them');
      await untilInterrupted(signal);
    },
  });
  const removed = restored.targets.some((target) => target.kind === 'files' || !target.sandbox.kept);
  if (removed) output.out(keep ? '  removed what was not kept' : '  sandbox and restored files removed (use --keep to keep them)');
  return EXIT.PASSED;
}

function describe(restored: RestoredForUse): string {
  const { manifest } = restored;
  return [
    `restored backup ${manifest.backupId} of drill "${manifest.drill}" (taken ${formatTime(manifest.createdAt)}) in ${(restored.durationMs / 1000).toFixed(1)}s`,
    ...restored.targets.map((target) =>
      target.kind === 'files'
        ? `  ${target.name}: files into a throwaway directory`
        : `  ${target.name}: into ${target.sandbox.description}, database "${target.sandbox.database}"`,
    ),
  ].join('\n');
}

/**
 * Waits for Ctrl-C (or SIGTERM). A timer keeps Node running meanwhile: with
 * only restored files to keep (no server child process), nothing else would,
 * and Node would exit at once, leaving them behind.
 */
async function untilInterrupted(signal: AbortSignal): Promise<void> {
  const keepAlive = setInterval(() => undefined, 60_000);
  try {
    await new Promise<void>((resolve) => onAbort(signal, resolve));
  } finally {
    clearInterval(keepAlive);
  }
}
