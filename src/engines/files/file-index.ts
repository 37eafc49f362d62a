import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { IntegrityError } from '../../errors.ts';

/**
 * The per-file index of a files target: one JSON object per line, in archive
 * order, stored as its own object beside the tar (compressed and encrypted
 * like it). A line per entry keeps writing and reading it streamed: a tree of
 * millions of files never needs its index in memory, and the manifest stays
 * small while pinning the index by its SHA-256.
 */

const entryBase = {
  /** Relative to the restore directory, "/"-separated. */
  path: z.string().min(1),
  mode: z.int().min(0),
  mtime: z.iso.datetime({ offset: true }),
};

export const fileIndexEntrySchema = z.discriminatedUnion('type', [
  z.looseObject({ ...entryBase, type: z.literal('file'), size: z.int().min(0), sha256: z.string().regex(/^[0-9a-f]{64}$/) }),
  z.looseObject({ ...entryBase, type: z.literal('directory') }),
  z.looseObject({ ...entryBase, type: z.literal('symlink'), target: z.string() }),
]);
export type FileIndexEntry = z.output<typeof fileIndexEntrySchema>;

export function serializeIndexEntry(entry: FileIndexEntry): string {
  return `${JSON.stringify(entry)}\n`;
}

/** The entries of an index file, one at a time; a line that is not a valid entry is an integrity error naming it. */
export async function* readFileIndex(path: string, what: string): AsyncGenerator<FileIndexEntry> {
  const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  let number = 0;
  for await (const line of lines) {
    number++;
    if (line === '') continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      throw new IntegrityError(`line ${number} of ${what} is not JSON; the backup's file index is damaged`);
    }
    const entry = fileIndexEntrySchema.safeParse(parsed);
    if (!entry.success) throw new IntegrityError(`line ${number} of ${what} is not a file index entry (${entry.error.issues[0]?.message}); the backup's file index is damaged`);
    yield entry.data;
  }
}
