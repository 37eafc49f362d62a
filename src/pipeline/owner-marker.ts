import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';

/**
 * Which firedrill process made something (a sandbox directory, a backup being
 * written), so that leftovers of a process that died without cleaning up
 * (SIGKILL, power loss) can be told apart from work still in progress.
 */

export interface OwnerMarker {
  pid: number;
  hostname: string;
  /** Changes at every boot: after a reboot no pid from before means anything. */
  bootId: string;
  startedAt: string;
}

async function bootId(): Promise<string> {
  return (await readFile('/proc/sys/kernel/random/boot_id', 'utf8').catch(() => 'unknown')).trim();
}

export async function currentOwner(): Promise<OwnerMarker> {
  return { pid: process.pid, hostname: hostname(), bootId: await bootId(), startedAt: new Date().toISOString() };
}

/**
 * True only when the owner is certainly gone: same host, and either another
 * boot or no such process. A marker from another host (a shared volume) is
 * never judged: its owner may be alive over there.
 */
export async function ownerIsGone(marker: Partial<OwnerMarker>): Promise<boolean> {
  if (typeof marker.pid !== 'number' || marker.hostname !== hostname()) return false;
  const currentBoot = await bootId();
  if (marker.bootId && currentBoot !== 'unknown' && marker.bootId !== currentBoot) return true;
  return !processExists(marker.pid);
}

export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
