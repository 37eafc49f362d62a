import { basename } from 'node:path';
import { z } from 'zod';

/** The `{ type: files, ... }` block of a drill's source or of one of its targets. */
export const filesSourceSchema = z
  .strictObject({
    type: z.literal('files').describe('Files and directories, backed up as a tar archive with a per-file index (size, mode, mtime, SHA-256).'),
    paths: z
      .array(
        z
          .string()
          .min(1)
          .refine((path) => !path.includes('\0'), { error: 'expected a path without NUL bytes' }),
      )
      .min(1)
      .describe(
        'Directories or files to back up; relative paths are relative to the drill file. ' +
          'One directory is restored as the restore directory itself; with several paths, each is restored under its own base name.',
      ),
    exclude: z
      .array(z.string().min(1))
      .default([])
      .describe(
        'Globs of what to leave out, matched against the path relative to the restore directory (a/b/*.log) and, for globs without "/", ' +
          'against each base name (*.tmp, cache): * within a path segment, ** across segments, ? one character. An excluded directory is not entered. (Default: none)',
      ),
    symlinks: z
      .enum(['keep', 'follow'])
      .default('keep')
      .describe(
        'keep: symbolic links are stored as links with their targets, never followed; follow: links that resolve inside the backed-up paths are stored as what ' +
          'they point to, others are still stored as links. Loops are detected and skipped with a warning. (Default: keep)',
      ),
    onUnreadable: z
      .enum(['fail', 'warn'])
      .default('fail')
      .describe(
        'A file or directory that cannot be read (permissions, I/O errors): fail the backup, or skip it with a warning in the report. ' +
          'Files that vanish while the backup runs are always a warning. (Default: fail)',
      ),
  })
  .superRefine((source, context) => {
    if (!Array.isArray(source.paths) || source.paths.length < 2) return;
    // With several paths each lands under its base name: two of the same name would collide.
    const seen = new Map<string, number>();
    source.paths.forEach((path, index) => {
      if (typeof path !== 'string') return;
      const name = basename(path.replace(/\/+$/, ''));
      const first = seen.get(name);
      if (name === '' || name === '.' || name === '..') {
        context.addIssue({ code: 'custom', path: ['paths', index], message: 'with several paths, each needs a base name to be restored under (not "/", "." or "..")' });
      } else if (first !== undefined) {
        context.addIssue({ code: 'custom', path: ['paths', index], message: `has the same base name "${name}" as paths[${first}]; with several paths each is restored under its base name` });
      } else {
        seen.set(name, index);
      }
    });
  });

export type FilesSource = z.output<typeof filesSourceSchema>;
