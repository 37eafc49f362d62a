import { randomInt } from 'node:crypto';
import { readlink } from 'node:fs/promises';
import { z } from 'zod';
import type { CheckContext, CheckOutcome } from '../interfaces.ts';
import { BaseCheck, commonCheckFields } from './base-check.ts';
import { hashFile } from '../pipeline/hashing.ts';
import { filesMetadata } from '../engines/files/files-engine.ts';
import { readFileIndex } from '../engines/files/file-index.ts';
import { walkFiles } from '../engines/files/file-walk.ts';
import { RestoredTree } from '../engines/files/restored-path.ts';
import { formatBytes } from '../format-bytes.ts';

const sampleSchema = z
  .union([
    z.literal('all'),
    z.int().min(1),
    z
      .string()
      .regex(/^\d+(\.\d+)?%$/, { error: 'expected "all", a number of files (200) or a percentage ("10%")' })
      .refine((text) => Number(text.slice(0, -1)) > 0 && Number(text.slice(0, -1)) <= 100, { error: 'expected a percentage above 0% and at most 100%' }),
  ])
  .default('all')
  .describe(
    'Whose content is hashed and compared: "all", a number of files (200) or a share ("10%"), picked at random each run so that every file is covered over time. ' +
      'Sizes, types and link targets are compared for every file either way. (Default: all)',
  );

export const filesCheckSchema = z
  .strictObject({
    type: z.literal('files').describe("Compares the restored files with the backup's file index."),
    ...commonCheckFields('30m'),
    sample: sampleSchema,
    paths: z
      .array(
        z
          .string()
          .min(1)
          .refine((path) => !path.startsWith('/') && !path.split('/').includes('..'), { error: 'expected a path relative to the restore directory, without ".."' }),
      )
      .default([])
      .describe('Paths, relative to the restore directory, that must exist (e.g. app.db, uploads/). (Default: none)'),
  })
  .describe(
    "Counts and total bytes match the manifest, every indexed entry is there with its type, size and link target, nothing else is, and content hashes match for all files or a sample.",
  );

export type FilesCheckConfig = z.output<typeof filesCheckSchema>;

/** Problems named word for word in the message; the rest are counted. */
const SHOWN = 5;

export class FilesCheck extends BaseCheck<FilesCheckConfig> {
  async run(context: CheckContext): Promise<CheckOutcome> {
    const { restored } = context;
    if (restored.kind !== 'files') throw new Error(`target "${this.target}" is not a files target`);
    const metadata = filesMetadata(context.target);
    const problems: string[] = [];
    let problemCount = 0;
    const problem = (text: string) => {
      problemCount++;
      if (problems.length < SHOWN) problems.push(text);
    };
    const pick = sampler(this.config.sample, metadata.fileCount);
    const indexed = { files: 0, directories: 0, symlinks: 0, bytes: 0, hashed: 0 };

    const tree = new RestoredTree(restored.directory);
    for await (const entry of readFileIndex(restored.indexPath, `the file index of target "${this.target}"`)) {
      context.signal.throwIfAborted();
      const lookup = await tree.lookUp(entry.path, { follow: false });
      if (lookup.status === 'outside') {
        problem(`the file index names ${JSON.stringify(entry.path)}, outside the restore directory: the index is damaged or crafted`);
        continue;
      }
      const found = lookup.status === 'present' ? lookup.stats : undefined;
      const path = lookup.status === 'present' ? lookup.path : undefined;
      if (entry.type === 'file') {
        indexed.files++;
        indexed.bytes += entry.size;
        if (!found) problem(`${entry.path} is missing`);
        else if (!found.isFile()) problem(`${entry.path} is not a regular file`);
        else if (found.size !== entry.size) problem(`${entry.path} has ${found.size} bytes, the backup recorded ${entry.size}`);
        // Drawn for every file, present or not, so the sample is uniform over what the backup holds.
        if (pick() && path && found?.isFile() && found.size === entry.size) {
          indexed.hashed++;
          const { sha256 } = await hashFile(path, context.signal);
          if (sha256 !== entry.sha256) problem(`${entry.path} has different content (SHA-256 ${sha256.slice(0, 12)}…, the backup recorded ${entry.sha256.slice(0, 12)}…)`);
        }
      } else if (entry.type === 'directory') {
        indexed.directories++;
        if (!found?.isDirectory()) problem(`directory ${entry.path} is missing`);
      } else {
        indexed.symlinks++;
        const target = path && found?.isSymbolicLink() ? await readlink(path) : undefined;
        if (target === undefined) problem(`symbolic link ${entry.path} is missing`);
        else if (target !== entry.target) problem(`symbolic link ${entry.path} points to ${target}, the backup recorded ${entry.target}`);
      }
    }
    // The index is pinned by its SHA-256, the totals by the manifest: they must agree, or one of them was made wrongly.
    if (indexed.files !== metadata.fileCount || indexed.bytes !== metadata.totalBytes) {
      problem(`the file index lists ${indexed.files} files (${indexed.bytes} bytes), the manifest ${metadata.fileCount} (${metadata.totalBytes} bytes)`);
    }
    const present = await countRestored(restored.directory, context.signal);
    if (present.files !== metadata.fileCount || present.bytes !== metadata.totalBytes) {
      problem(
        `the restore holds ${present.files} files (${present.bytes} bytes), the backup ${metadata.fileCount} (${metadata.totalBytes} bytes)` +
          (present.files > metadata.fileCount ? '; files the backup does not list were restored' : ''),
      );
    }
    for (const required of this.config.paths) {
      const lookup = await tree.lookUp(required.replace(/\/+$/, ''), { follow: false });
      if (lookup.status === 'missing') problem(`required path ${required} is missing`);
      if (lookup.status === 'outside') problem(`required path ${required} leads outside the restore directory (through a symbolic link)`);
    }

    const details = {
      files: present.files,
      bytes: present.bytes,
      directories: indexed.directories,
      symlinks: indexed.symlinks,
      contentVerified: indexed.hashed,
      sample: String(this.config.sample),
      problems: problemCount,
    };
    if (problemCount > 0) {
      const more = problemCount > problems.length ? ` (and ${problemCount - problems.length} more)` : '';
      return { status: 'failed', message: `${problemCount} difference${problemCount === 1 ? '' : 's'} from the backup: ${problems.join('; ')}${more}`, details };
    }
    const sampled = this.config.sample === 'all' ? 'all' : `${indexed.hashed} sampled (${String(this.config.sample)})`;
    return {
      status: 'passed',
      message:
        `${counted(present.files, 'file')} (${formatBytes(present.bytes)}), ${counted(indexed.directories, 'directory', 'directories')} and ` +
        `${counted(indexed.symlinks, 'link')} match the backup; ` +
        `content verified for ${sampled}` +
        (this.config.paths.length > 0 ? `; ${counted(this.config.paths.length, 'required path')} present` : ''),
      details,
    };
  }
}

function counted(count: number, singular: string, plural = `${singular}s`): string {
  return `${count} ${count === 1 ? singular : plural}`;
}

/**
 * Decides, file by file in index order, whether its content is hashed.
 * A share draws each file independently; a number picks exactly that many
 * out of `total` by selection sampling (each file with probability
 * still-needed / still-left), so no list of files is ever held.
 */
function sampler(sample: FilesCheckConfig['sample'], total: number): () => boolean {
  if (sample === 'all') return () => true;
  if (typeof sample === 'string') {
    const share = Number(sample.slice(0, -1)) / 100;
    return () => randomInt(1_000_000) < share * 1_000_000;
  }
  let needed = Math.min(sample, total);
  let left = total;
  return () => {
    if (left <= 0) return false;
    const chosen = randomInt(left) < needed;
    left--;
    if (chosen) needed--;
    return chosen;
  };
}

/** Regular files and their bytes in the restore directory, walked without following links. */
async function countRestored(directory: string, signal: AbortSignal): Promise<{ files: number; bytes: number }> {
  const totals = { files: 0, bytes: 0 };
  const entries = walkFiles({ paths: [directory], exclude: [], symlinks: 'keep', onUnreadable: 'fail', onWarning: () => undefined, signal });
  for await (const entry of entries) {
    if (entry.type !== 'file') continue;
    totals.files++;
    totals.bytes += entry.stats.size;
  }
  return totals;
}
