import { randomBytes } from 'node:crypto';

/**
 * Run and backup ids: `20261126T031500Z-3f9a1c`. They sort by time as plain
 * strings (so "latest" needs no index), stay readable in a directory listing,
 * and the random suffix keeps two runs in the same second apart.
 */
export function newId(now: Date = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  return `${stamp}-${randomBytes(3).toString('hex')}`;
}

const ID_PATTERN = /^\d{8}T\d{6}Z-[0-9a-f]{6}$/;

/** Whether a name is a run or backup id as `newId` makes them: anything else (a file put there by hand) is not history. */
export function isId(name: string): boolean {
  return ID_PATTERN.test(name);
}
