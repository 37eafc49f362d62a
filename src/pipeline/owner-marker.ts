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
  /** /etc/machine-id: a hostname alone does not tell cloned machines or fixed container names apart. */
  machineId: string;
  /** Changes at every boot: after a reboot no pid from before means anything. */
  bootId: string;
  startedAt: string;
}

async function readId(path: string): Promise<string> {
  return (await readFile(path, 'utf8').catch(() => 'unknown')).trim() || 'unknown';
}

export async function currentOwner(): Promise<OwnerMarker> {
  return {
    pid: process.pid,
    hostname: hostname(),
    machineId: await readId('/etc/machine-id'),
    bootId: await readId('/proc/sys/kernel/random/boot_id'),
    startedAt: new Date().toISOString(),
  };
}

/**
 * True only when the owner is certainly gone: the marker was written on this
 * very machine (hostname and machine id), and either the machine rebooted
 * since or no process has that pid. A marker from elsewhere (a shared volume)
 * is never judged this way: its owner may be alive over there.
 */
export async function ownerIsGone(marker: Partial<OwnerMarker>): Promise<boolean> {
  const here = await currentOwner();
  if (typeof marker.pid !== 'number' || marker.hostname !== here.hostname) return false;
  if (marker.machineId === undefined || marker.machineId === 'unknown' || marker.machineId !== here.machineId) return false;
  if (marker.bootId && here.bootId !== 'unknown' && marker.bootId !== here.bootId) return true;
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
