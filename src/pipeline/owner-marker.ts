import { readFile, stat, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';

/**
 * Which firedrill process made something (a sandbox directory, a backup being
 * written), and that it is still at it: the owner rewrites its marker every
 * minute. Leftovers of a process that died without cleaning up (SIGKILL,
 * power loss) are told apart from work in progress by that heartbeat: a
 * marker silent for an hour is abandoned wherever it was written; one silent
 * for a few minutes is abandoned when its owner provably ran on this very
 * machine and is gone. No pid or hostname alone decides: another machine
 * sharing the directory may have the same ones.
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

export const HEARTBEAT_MS = 60_000;
const ABANDONED_AFTER_MS = 60 * 60_000;
const ABANDONED_BY_DEAD_OWNER_AFTER_MS = 3 * HEARTBEAT_MS;

async function readFirstId(paths: string[]): Promise<string> {
  for (const path of paths) {
    const id = (await readFile(path, 'utf8').catch(() => '')).trim();
    if (id) return id;
  }
  return 'unknown';
}

/**
 * /etc/machine-id is meant to stay on its machine, and markers travel (to an
 * S3 bucket): a digest of it tells machines apart just as well.
 */
function digestOf(id: string): string {
  return id === 'unknown' ? id : createHash('sha256').update(`firedrill machine ${id}`).digest('hex').slice(0, 32);
}

export async function currentOwner(): Promise<OwnerMarker> {
  return {
    pid: process.pid,
    hostname: hostname(),
    machineId: digestOf(await readFirstId(['/etc/machine-id', '/var/lib/dbus/machine-id'])),
    bootId: await readFirstId(['/proc/sys/kernel/random/boot_id']),
    startedAt: new Date().toISOString(),
  };
}

/**
 * Writes the marker now and rewrites it every minute (a rewrite, so the file
 * system's clock dates it, not this machine's); returns what stops it.
 */
export async function keepMarker(path: string, extra: Record<string, unknown> = {}): Promise<() => void> {
  const text = `${JSON.stringify({ ...(await currentOwner()), ...extra })}\n`;
  await writeFile(path, text, { mode: 0o600 });
  const heartbeat = setInterval(() => void writeFile(path, text).catch(() => undefined), HEARTBEAT_MS).unref();
  return () => clearInterval(heartbeat);
}

/**
 * Reads a marker and judges whether its owner is gone for good. `graceMs`: how
 * long a marker must be silent before a dead owner on this machine counts; a
 * sandbox in this machine's temp dir needs none, a backup on a volume other
 * machines may share waits a few heartbeats.
 */
export async function readMarker(
  path: string,
  options: { graceMs?: number } = {},
): Promise<{ owner: (Partial<OwnerMarker> & Record<string, unknown>) | undefined; abandoned: boolean; silentMs: number }> {
  const owner = await readFile(path, 'utf8').then(
    (text) => JSON.parse(text) as Partial<OwnerMarker> & Record<string, unknown>,
    () => undefined,
  );
  const written = (await stat(path).catch(() => undefined))?.mtimeMs;
  if (!owner || written === undefined) return { owner, abandoned: false, silentMs: 0 };
  const silentMs = Date.now() - written;
  return { owner, abandoned: await isAbandoned(owner, silentMs, options), silentMs };
}

/**
 * Why an incomplete backup is, or is not yet, debris, as `backups` and
 * `repair` say it. A writer that provably died here is named as such, with
 * when repair will take its backup, so nobody waits for a run that is gone.
 */
export async function describeIncomplete(owner: Partial<OwnerMarker> | undefined, silentMs: number, abandoned: boolean): Promise<string> {
  if (abandoned) return 'left behind by a firedrill process that no longer runs';
  if (owner?.pid === undefined) return 'no manifest';
  if (await ownerIsGone(owner)) {
    const waitSeconds = Math.max(1, Math.ceil((ABANDONED_BY_DEAD_OWNER_AFTER_MS - silentMs) / 1000));
    return (
      `left behind by pid ${owner.pid} on this machine, which no longer runs; ` +
      `repair removes it once it has been silent for ${ABANDONED_BY_DEAD_OWNER_AFTER_MS / 60_000} minutes (in ${waitSeconds}s)`
    );
  }
  return `being written by pid ${owner.pid} on ${owner.hostname ?? 'another machine'}`;
}

/**
 * The rule for any marker, wherever it is stored (a file, an S3 object whose
 * LastModified is the heartbeat): silent for an hour, or silent for a few
 * heartbeats and its owner provably gone.
 */
export async function isAbandoned(owner: Partial<OwnerMarker> | undefined, silentMs: number, options: { graceMs?: number } = {}): Promise<boolean> {
  if (silentMs > ABANDONED_AFTER_MS) return true;
  return owner !== undefined && silentMs >= (options.graceMs ?? ABANDONED_BY_DEAD_OWNER_AFTER_MS) && (await ownerIsGone(owner));
}

/** Silence after which an incomplete backup without any marker counts as debris. */
export const ABANDONED_WITHOUT_MARKER_AFTER_MS = ABANDONED_AFTER_MS;

/**
 * What can be known of an owner from here. `gone`: it provably ran on this
 * machine (same hostname and machine id, or, where neither side has a
 * machine id, the same boot) and the machine rebooted since or no process has
 * that pid. `alive`: it ran here and its pid still runs. `unknown`: it ran
 * elsewhere (another machine sharing the directory or the Docker engine), or
 * the marker says too little.
 */
export async function ownerState(marker: Partial<OwnerMarker>): Promise<'gone' | 'alive' | 'unknown'> {
  const here = await currentOwner();
  if (typeof marker.pid !== 'number' || marker.hostname !== here.hostname) return 'unknown';
  const knownMachine = marker.machineId !== undefined && marker.machineId !== 'unknown' && marker.machineId === here.machineId;
  const sameBoot = marker.bootId !== undefined && marker.bootId !== 'unknown' && marker.bootId === here.bootId;
  if (knownMachine && !sameBoot && marker.bootId !== undefined && marker.bootId !== 'unknown') return 'gone';
  if (!knownMachine && !(marker.machineId === 'unknown' && here.machineId === 'unknown' && sameBoot)) return 'unknown';
  return processExists(marker.pid) ? 'alive' : 'gone';
}

/** True only when the owner provably ran on this machine and is gone (see ownerState). */
export async function ownerIsGone(marker: Partial<OwnerMarker>): Promise<boolean> {
  return (await ownerState(marker)) === 'gone';
}

export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
