import { randomBytes } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';

/**
 * Writes a small file (a report, a metrics textfile, JUnit XML) so that no
 * reader ever sees half of it: to a temporary name beside it, then renamed
 * into place. The temporary name is unique, so two writers never mix their
 * bytes, and it is removed when writing fails.
 */
export async function writeFileAtomically(path: string, data: string, options: { mode: number }): Promise<void> {
  const temporary = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(temporary, data, { mode: options.mode });
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}
