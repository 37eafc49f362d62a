import { z } from 'zod';
import type { Engine, FetchedObjects, ObjectSink, RestorePlace, RestoredTarget, RunContext, TargetDescription } from '../../interfaces.ts';
import type { TargetRecord } from '../../repository/manifest.ts';
import { parseTargetMetadata } from '../target-metadata.ts';
import { backupFiles } from './files-backup.ts';
import { extractArchive } from './safe-extract.ts';

/**
 * Files and directories: one tar archive per target, streamed through the
 * repository's compression, encryption and checksum, plus a per-file index
 * (path, size, mode, mtime, SHA-256) stored beside it. Restored by unpacking
 * into a throwaway directory that nothing outside the drill can see.
 */

export interface FilesTarget {
  /** Absolute paths. */
  paths: string[];
  exclude: string[];
  symlinks: 'keep' | 'follow';
  onUnreadable: 'fail' | 'warn';
  configuredIn: string;
}

/** What the manifest records of a files target: totals and the names of its two objects; the per-file list is the index object. */
export const filesMetadataSchema = z.looseObject({
  paths: z.array(z.string()),
  /** The tar archive's object name. */
  archive: z.string(),
  /** The index's object name: JSON lines, one per archived entry. */
  index: z.string(),
  fileCount: z.int().min(0),
  directoryCount: z.int().min(0),
  symlinkCount: z.int().min(0),
  /** Bytes of regular files' content. */
  totalBytes: z.int().min(0),
  warningCount: z.int().min(0),
  /** The first warnings (skipped sockets, files that changed while read), word for word. */
  warnings: z.array(z.looseObject({ path: z.string(), problem: z.string() })),
});
export type FilesMetadata = z.output<typeof filesMetadataSchema>;

export function filesMetadata(record: TargetRecord): FilesMetadata {
  return parseTargetMetadata(filesMetadataSchema, record, 'files');
}

export class FilesEngine implements Engine<FilesTarget> {
  readonly type = 'files';
  readonly restoresInto = 'directory';

  backup(context: RunContext, targetName: string, target: FilesTarget, sink: ObjectSink): Promise<TargetRecord> {
    return backupFiles(context, targetName, target, sink);
  }

  describeTarget(record: TargetRecord): TargetDescription {
    const metadata = filesMetadataSchema.safeParse(record.metadata);
    if (!metadata.success) return {};
    const { paths, fileCount, totalBytes, warningCount, warnings } = metadata.data;
    return {
      source: paths.join(', '),
      files: { count: fileCount, bytes: totalBytes },
      ...(warningCount > 0 ? { warnings: { count: warningCount, first: warnings.slice(0, 10).map(({ path, problem }) => ({ path, problem })) } } : {}),
    };
  }

  async restore(context: RunContext, record: TargetRecord, objects: FetchedObjects, place: RestorePlace): Promise<RestoredTarget> {
    if (place.kind !== 'directory') throw new Error(`a files target restores into a directory, not a ${place.kind}`);
    const metadata = filesMetadata(record);
    const extracted = await context.phase(`restore.unpack:${record.name}`, () =>
      extractArchive(objects.path(metadata.archive), place.directory, `the archive of target "${record.name}"`, context.signal),
    );
    context.logger.info({ target: record.name, directory: place.directory, ...extracted }, 'files restored');
    return {
      kind: 'files',
      directory: place.directory,
      indexPath: objects.path(metadata.index),
      facts: { files: extracted.files, directories: extracted.directories, symlinks: extracted.symlinks, bytes: extracted.bytes },
    };
  }
}
