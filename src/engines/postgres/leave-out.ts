import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LeaveOut } from '../../interfaces.ts';
import { SandboxError } from '../../errors.ts';
import { runToCompletion } from '../../pipeline/child-process.ts';
import { createWorkDirectory, type WorkDirectory } from '../../pipeline/work-directory.ts';
import { findTools, pickTool } from './postgres-tools.ts';

/**
 * A `pg_restore --use-list` file that restores everything but one entry: how
 * `firedrill gameday` makes a restore that silently lacks one table's data
 * or one index, to see whether the drill's checks notice. The archive's
 * table of contents is listed by this host's pg_restore (at least the
 * archive's major), and the list names entries by their dump ids.
 */
export async function listWithout(
  archive: string,
  leaveOut: LeaveOut,
  options: { minimumMajor: number; signal: AbortSignal },
): Promise<{ directory: WorkDirectory; listFile: string; leftOut: string }> {
  const tool = pickTool(await findTools('pg_restore'), options.minimumMajor);
  // Problems of making the damage are the gameday's, never the backup's: they are environment errors.
  if (!tool) throw new SandboxError(`leaving out ${leaveOut.entryType} needs pg_restore ${options.minimumMajor} or newer on this host, to list the archive`);
  const listing = await runToCompletion(tool.path, ['--list', archive], { signal: options.signal });
  // `3345; 1259 16390 TABLE DATA public orders postgres`: dump id; catalog ids; type; schema; name (unquoted, may hold spaces); owner.
  const entry = new RegExp(`^\\d+; \\d+ \\d+ ${leaveOut.entryType} `);
  const wanted = leaveOut.schema !== undefined && leaveOut.name !== undefined ? `${leaveOut.schema} ${leaveOut.name} ` : undefined;
  let leftOut: string | undefined;
  const kept = listing.split('\n').filter((line) => {
    const head = leftOut === undefined ? entry.exec(line) : null;
    if (!head) return true;
    const rest = line.slice(head[0].length);
    if (wanted !== undefined && !rest.startsWith(wanted)) return true;
    leftOut = `${leaveOut.entryType} ${wanted ? `${leaveOut.schema}.${leaveOut.name}` : rest.split(' ').slice(0, 2).join('.')}`;
    return false;
  });
  if (leftOut === undefined) {
    const which = wanted ? ` for ${leaveOut.schema}.${leaveOut.name}` : '';
    throw new SandboxError(`the archive has no ${leaveOut.entryType} entry${which} to leave out`);
  }
  const directory = await createWorkDirectory('restore-list');
  try {
    const listFile = join(directory.path, 'restore.list');
    await writeFile(listFile, `${kept.join('\n')}\n`, { mode: 0o600 });
    return { directory, listFile, leftOut };
  } catch (error) {
    await directory.release();
    throw error;
  }
}
