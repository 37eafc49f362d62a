import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';

/** Where a command would be found on PATH, or undefined: lets firedrill say "install zstd" before a dump starts. */
export async function findExecutable(name: string, path = process.env.PATH ?? ''): Promise<string | undefined> {
  for (const directory of path.split(delimiter).filter(Boolean)) {
    const candidate = join(directory, name);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}
