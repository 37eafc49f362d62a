/**
 * CPU accounting, to tell a slow firedrill from a busy machine: the bench
 * shares its cores with whatever else runs (other people's builds and tests).
 *
 * "Ours" is the CPU time of the bench process and every descendant (user +
 * system, including the children they have already reaped: /proc/<pid>/stat
 * utime, stime, cutime, cstime), so a pg_dump or a PostgreSQL backend that
 * ends between two snapshots is still counted, in its parent. "Foreign" is
 * the machine's busy time (/proc/stat) minus ours. The disk's busy share
 * (/proc/diskstats) is reported too; it cannot tell whose I/O it was.
 */
import { readdir, readFile } from 'node:fs/promises';

const TICKS_PER_SECOND = 100;

interface Snapshot {
  at: number;
  busyTicks: number;
  oursTicks: number;
  /** Milliseconds the busiest whole disk has had I/O in flight (/proc/diskstats io_ticks), whoever did it. */
  diskBusyMs: number;
  /** Sectors (512 bytes) read from and written to the whole disks, whoever did it. */
  sectorsRead: number;
  sectorsWritten: number;
}

async function diskStats(): Promise<{ diskBusyMs: number; sectorsRead: number; sectorsWritten: number }> {
  const stats = { diskBusyMs: 0, sectorsRead: 0, sectorsWritten: 0 };
  try {
    for (const line of (await readFile('/proc/diskstats', 'utf8')).split('\n')) {
      // major minor name reads merged sectors-read ms writes merged sectors-written ms in-flight io-ticks ...
      const fields = line.trim().split(/\s+/);
      if (!/^(vd[a-z]+|sd[a-z]+|xvd[a-z]+|nvme\d+n\d+)$/.test(fields[2] ?? '')) continue;
      stats.diskBusyMs = Math.max(stats.diskBusyMs, Number(fields[12] ?? 0));
      stats.sectorsRead += Number(fields[5] ?? 0);
      stats.sectorsWritten += Number(fields[9] ?? 0);
    }
  } catch {
    // no /proc/diskstats: zeros
  }
  return stats;
}

async function machineBusyTicks(): Promise<number> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0] ?? '';
  // cpu user nice system idle iowait irq softirq steal ...
  const fields = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return fields.slice(0, 8).reduce((sum, value) => sum + value, 0) - idle;
}

/** utime + stime + cutime + cstime of a process, and its parent pid; undefined when it is gone. */
export async function processTicks(pid: number): Promise<{ ppid: number; ticks: number; ownTicks: number } | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: the fields after it start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const number = (index: number) => Number(fields[index - 3] ?? 0);
    return { ppid: number(4), ownTicks: number(14) + number(15), ticks: number(14) + number(15) + number(16) + number(17) };
  } catch {
    return undefined;
  }
}

async function oursTicks(): Promise<number> {
  const entries = (await readdir('/proc')).filter((name) => /^\d+$/.test(name)).map(Number);
  const processes = new Map<number, { ppid: number; ticks: number }>();
  await Promise.all(
    entries.map(async (pid) => {
      const found = await processTicks(pid);
      if (found) processes.set(pid, found);
    }),
  );
  const children = new Map<number, number[]>();
  for (const [pid, { ppid }] of processes) children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  let total = 0;
  const stack = [process.pid];
  while (stack.length > 0) {
    const pid = stack.pop() as number;
    total += processes.get(pid)?.ticks ?? 0;
    stack.push(...(children.get(pid) ?? []));
  }
  return total;
}

export async function snapshot(): Promise<Snapshot> {
  const [busyTicks, ours, disk] = await Promise.all([machineBusyTicks(), oursTicks(), diskStats()]);
  return { at: Date.now(), busyTicks, oursTicks: ours, ...disk };
}

export interface CpuUse {
  /** CPU seconds of the bench and its descendants. */
  oursCpuSeconds: number;
  /** CPU seconds of everything else on the machine: interference. */
  foreignCpuSeconds: number;
  /** Foreign CPU as cores busy on average. */
  foreignCores: number;
  /** Share of the time the disk was busy (ours and others' I/O alike). */
  diskBusy: number;
  /** MiB read from and written to disk (ours and others' alike): reads show what the page cache did not hold. */
  diskReadMb: number;
  diskWrittenMb: number;
}

function since(before: Snapshot, after: Snapshot): CpuUse {
  const seconds = (ticks: number) => Math.round((ticks / TICKS_PER_SECOND) * 100) / 100;
  const ours = after.oursTicks - before.oursTicks;
  const foreign = Math.max(0, after.busyTicks - before.busyTicks - ours);
  const wall = (after.at - before.at) / 1000;
  return {
    oursCpuSeconds: seconds(ours),
    foreignCpuSeconds: seconds(foreign),
    foreignCores: Math.round((foreign / TICKS_PER_SECOND / Math.max(wall, 0.01)) * 100) / 100,
    diskBusy: Math.round(Math.min(1, (after.diskBusyMs - before.diskBusyMs) / Math.max(1, after.at - before.at)) * 100) / 100,
    diskReadMb: Math.round(((after.sectorsRead - before.sectorsRead) * 512) / 1024 / 1024),
    diskWrittenMb: Math.round(((after.sectorsWritten - before.sectorsWritten) * 512) / 1024 / 1024),
  };
}

/** Snapshots every half second while the bench runs, so that any time window (a phase of a report) can be judged afterwards. */
export class CpuMonitor {
  readonly #timeline: Snapshot[] = [];
  #timer: NodeJS.Timeout | undefined;
  #busy = false;

  start(): void {
    this.#timer = setInterval(() => {
      if (this.#busy) return;
      this.#busy = true;
      void snapshot()
        .then((taken) => {
          this.#timeline.push(taken);
          // An hour of history is plenty: any window asked about is recent.
          if (this.#timeline.length > 7200) this.#timeline.shift();
        })
        .finally(() => (this.#busy = false));
    }, 500);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** CPU use between two Date.now() times, from the snapshots that enclose them (half a second wider at most). */
  use(from: number, to: number): CpuUse | undefined {
    const before = this.#timeline.findLast((entry) => entry.at <= from) ?? this.#timeline.find((entry) => entry.at >= from);
    const after = this.#timeline.find((entry) => entry.at >= to) ?? this.#timeline.at(-1);
    if (!before || !after || after.at <= before.at) return undefined;
    return since(before, after);
  }

  /**
   * Waits until the rest of the machine has been quiet (under `maxForeignCores`
   * busy over the last 3 s), at most `timeoutMs`. Returns the foreign load last
   * seen; a machine that never quiets down is measured anyway, and says so.
   */
  async waitForQuiet(options: { maxForeignCores: number; timeoutMs: number; signal: AbortSignal }): Promise<{ waitedSeconds: number; foreignCores: number }> {
    const started = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 3_100));
    for (;;) {
      const now = Date.now();
      const foreignCores = this.use(now - 3_000, now)?.foreignCores ?? 0;
      const waitedSeconds = Math.round((now - started) / 100) / 10;
      if (foreignCores <= options.maxForeignCores || now - started > options.timeoutMs || options.signal.aborted) return { waitedSeconds, foreignCores };
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
  }
}
