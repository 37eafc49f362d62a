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
