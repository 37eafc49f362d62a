/**
 * Page-cache warming: both backups must read the source from the same place.
 * The raw backup runs right after the database is generated (its files are in
 * the page cache), firedrill's after a restore that wrote several times the
 * database's size (which may have pushed the source out of the cache). Each
 * backup step therefore first reads every file of the source's data
 * directory once, through one reused buffer (no memory grows), so that
 * neither pays for disk reads the other does not.
 */
import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';

const BUFFER = Buffer.allocUnsafe(1024 * 1024);

async function readThrough(path: string): Promise<number> {
  const file = await open(path, 'r');
  let total = 0;
  try {
    for (;;) {
      const { bytesRead } = await file.read(BUFFER, 0, BUFFER.length, null);
      if (bytesRead === 0) return total;
      total += bytesRead;
    }
  } finally {
    await file.close();
  }
}

/** Reads every regular file under `directory` once; returns the bytes read. Files that vanish meanwhile are skipped. */
export async function warmPageCache(directory: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(directory, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    total += await readThrough(join(entry.parentPath, entry.name)).catch(() => 0);
  }
  return total;
}
