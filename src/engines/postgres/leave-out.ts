import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LeaveOut } from '../../interfaces.ts';
import { RestoreError } from '../../errors.ts';
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
  if (!tool) throw new RestoreError(`leaving out ${leaveOut.entryType} needs pg_restore ${options.minimumMajor} or newer on this host, to list the archive`);
  const listing = await runToCompletion(tool.path, ['--list', archive], { signal: options.signal });
  // `3345; 1259 16390 TABLE DATA public orders postgres`: dump id; catalog ids; type; schema; name; owner.
  const pattern = new RegExp(`^(\\d+); \\d+ \\d+ ${leaveOut.entryType} (\\S+) (\\S+) `);
  let leftOut: string | undefined;
  const kept = listing.split('\n').filter((line) => {
    const match = leftOut === undefined ? pattern.exec(line) : null;
    if (!match) return true;
    const qualifiedName = `${match[2]}.${match[3]}`;
    if (leaveOut.qualifiedName !== undefined && leaveOut.qualifiedName !== qualifiedName) return true;
    leftOut = `${leaveOut.entryType} ${qualifiedName}`;
    return false;
  });
  if (leftOut === undefined) throw new RestoreError(`the archive has no ${leaveOut.entryType} entry${leaveOut.qualifiedName ? ` for ${leaveOut.qualifiedName}` : ''} to leave out`);
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
