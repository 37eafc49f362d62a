/**
 * `npm run bench [-- --size-mb 1024[,4096,...]] [--repeat N] [--fingerprint exact|estimate|both] [--explain[-in-node]] [--dir DIR] [--cli PATH]`
 *
 * firedrill's backup and restore of a PostgreSQL database, side by side with
 * the same work done by hand, and firedrill's own peak memory. For each size
 * (MiB, default 1024; several are measured one after another):
 *
 * 1. A source: a throwaway local cluster (initdb in a temp dir, TCP on
 *    127.0.0.1 with a password, run as the unprivileged sandbox user when we
 *    are root: src/sandbox/local-cluster.ts and unix-user.ts), filled with a
 *    generated database of about that size (scripts/bench/generate.ts: six
 *    tables, mixed text, numerics, timestamps, jsonb, bytea, foreign keys,
 *    btree and GIN indexes), generated on the server in parallel sessions.
 *    Bulk-load settings (max_wal_size 8GB, maintenance_work_mem 1GB,
 *    shared_buffers 512MB) are the source's only; pg_dump reads the same
 *    source for both backups.
 * 2. Raw backup: `pg_dump -Fc -Z0 | zstd -T0 -3 -q > dump.zst` (the pg_dump
 *    firedrill picks; argument arrays, every exit status checked).
 * 3. Raw restore: `zstd -d` into a file, then `pg_restore --jobs 2 --no-owner`
 *    into a fresh empty database of a local cluster that is already running,
 *    started by the very function firedrill's local sandbox uses (same
 *    binaries, same server settings: firedrill's THROWAWAY_SETTINGS). Both
 *    steps are timed together.
 * 4. firedrill: `firedrill run bench` (the CLI as users run it) with a local
 *    repository (zstd level 3, age encryption to a fresh age-keygen key, the
 *    identity from a file), `restore: { sandbox: local, jobs: 2 }` and a
 *    fingerprint check. The report's `backup` phase is the backup time
 *    (connect, snapshot, catalog, pg_dump | zstd | age | SHA-256 into the
 *    repository, the exact row counts, the commit); its `restore` phase is
 *    the restore time (fetch, verify, decrypt, decompress, sandbox initdb and
 *    start, prepare, pg_restore --jobs 2). Checks run after, reported apart.
 *    `--fingerprint both` also runs it with `rowCounts: estimate`, to show
 *    what the exact counts cost.
 *
 * The machine may be shared (other people's builds and tests): every timed
 * step first reads the source's files into the page cache when it is a
 * backup (both backups read from memory: scripts/bench/cache.ts), flushes
 * dirty pages (`sync`: no step pays for the writeback of the one before),
 * then waits (up to a minute) until the rest of the machine is quiet. Each
 * step is repeated `--repeat` times (default 2) and the fastest counts. Every
 * sample is reported with the CPU that other processes used meanwhile
 * (`foreignCores`: /proc/stat minus the CPU of the bench's own process tree,
 * scripts/bench/cpu.ts), the disk's busy share and MiB read, and the CPU
 * seconds of our own process tree (`ourCpuSeconds`; `cpuSeconds` compares
 * them per size: steadier than wall time on a shared machine).
 *
 * Memory: the CLI process's /proc/<pid>/status is read every 50 ms until it
 * exits: VmRSS (resident now) and VmHWM (the kernel's high-water mark, which
 * never decreases, so no peak between two reads is missed; only growth in
 * the last 50 ms before exit could be). `peakRssMb` is VmHWM as of the end of
 * the restore phase (backup and restore; the report's phase times and the
 * samples share the wall clock), the highest of the repeats; per-phase
 * maxima of VmRSS, the CLI's own CPU seconds per phase and the whole run's
 * VmHWM (checks included) are reported too. pg_dump, pg_restore, zstd, age
 * and the PostgreSQL servers are separate processes and not counted.
 *
 * Output: progress on stderr; the LAST line of stdout is one JSON object
 * with the fields of the largest size (sizeMb, rawBackupSeconds,
 * firedrillBackupSeconds, backupRatio, rawRestoreSeconds,
 * firedrillRestoreSeconds, restoreRatio, peakRssMb, ...), `sizes` (one such
 * object per size) and `peakRssGrowth` (largest over smallest) when several
 * sizes were measured, and `targets` with pass/fail booleans, judged on the
 * worst size. The exit status is 0 even when a target is missed (this is a
 * measurement): missed targets are listed in `missedTargets` and on stderr.
 * Non-zero only when the bench itself could not run (130 on Ctrl-C).
 *
 * Targets: backupRatio and restoreRatio <= 1.15, peakRssMb <= 200, and
 * flat memory: peakRssGrowth <= 1.1 (needs two sizes).
 *
 * `--explain` then measures the pipelines piece by piece
 * (scripts/bench/explain.ts; `--explain-in-node` adds firedrill's in-Node
 * encoding stages, the path of a pg_dump in a container). `--cli` runs
 * another build of firedrill (default: dist/cli/bin.js, which `npm run
 * bench` has just built, run from a private copy so that a rebuild during a
 * long run changes nothing). `--sessions` sets the generation's parallel
 * sessions (default: the cores, at least 2).
 *
 * Everything lives in one temp dir per size (--dir, default the OS temp dir;
 * the CLI gets it as TMPDIR, so its fetched objects and sandbox go there
 * too) and one for the build's copy, removed with every cluster stopped on
 * success, failure and Ctrl-C (children stopped first, then the clusters
 * and directories, even in the middle of generating). A 4 GiB size needs
 * about 25 GB of free disk at its peak.
 */
import { availableParallelism, tmpdir } from 'node:os';
import { chmod, cp, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { startLocalCluster, type StartedLocalCluster } from '../src/sandbox/local-cluster.ts';
import { sandboxUser } from '../src/sandbox/unix-user.ts';
import { findTools, pickTool } from '../src/engines/postgres/postgres-tools.ts';
import { clientConfig, libpqEnvironment } from '../src/engines/postgres/postgres-connection.ts';
import { Releasers } from '../src/drill/releasers.ts';
import { createLogger, silentLogger } from '../src/logger.ts';
import { Secret } from '../src/secret.ts';
import type { Report } from '../src/report/report.ts';
import { generateDatabase, newClient, type GeneratedDatabase } from './bench/generate.ts';
import { run, runMeasured, runPipeline, runningChildren, type MeasuredRun, type Stage } from './bench/processes.ts';
import { CpuMonitor } from './bench/cpu.ts';
import { explain } from './bench/explain.ts';
import { warmPageCache } from './bench/cache.ts';

const ROOT = resolve(import.meta.dirname, '..');
const BUILT_CLI = join(ROOT, 'dist/cli/bin.js');
const MIB = 1024 * 1024;
const TARGETS = { backupRatio: 1.15, restoreRatio: 1.15, peakRssMb: 200, peakRssGrowth: 1.1 };
/** pg_database_size may differ from the requested size by this much. */
const SIZE_TOLERANCE = 0.15;
const JOBS = 2;
const SOURCE_SETTINGS = { wal_level: 'minimal', max_wal_senders: '0', max_wal_size: '8GB', maintenance_work_mem: '1GB', shared_buffers: '512MB' };
/** A timed step starts once the rest of the machine has used less than this many cores for 3 s (or after a minute). */
const QUIET = { maxForeignCores: 0.25, timeoutMs: 60_000 };

type Fingerprint = 'exact' | 'estimate';

interface Options {
  sizesMb: number[];
  repeat: number;
  fingerprints: Fingerprint[];
  directory: string;
  sessions: number;
  cli: string;
  explain: boolean;
  explainInNode: boolean;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      'size-mb': { type: 'string', default: '1024' },
      repeat: { type: 'string', default: '2' },
      fingerprint: { type: 'string', default: 'exact' },
      dir: { type: 'string', default: tmpdir() },
      sessions: { type: 'string', default: String(Math.max(2, availableParallelism())) },
      cli: { type: 'string', default: BUILT_CLI },
      explain: { type: 'boolean', default: false },
      'explain-in-node': { type: 'boolean', default: false },
    },
    strict: true,
  });
  const sizesMb = values['size-mb'].split(',').map((size) => Number(size.trim()));
  if (sizesMb.some((size) => !Number.isInteger(size) || size < 50)) throw new Error(`--size-mb takes whole MiB of at least 50, comma-separated (got "${values['size-mb']}")`);
  const repeat = Number(values.repeat);
  if (!Number.isInteger(repeat) || repeat < 1) throw new Error(`--repeat takes a whole number of at least 1 (got "${values.repeat}")`);
  const fingerprint = values.fingerprint;
  if (!['exact', 'estimate', 'both'].includes(fingerprint)) throw new Error(`--fingerprint is exact, estimate or both (got "${fingerprint}")`);
  return {
    sizesMb,
    repeat,
    fingerprints: fingerprint === 'both' ? ['exact', 'estimate'] : [fingerprint as Fingerprint],
    directory: resolve(values.dir),
    sessions: Number(values.sessions),
    cli: resolve(values.cli),
    explain: values.explain || values['explain-in-node'],
    explainInNode: values['explain-in-node'],
  };
}

// ---------------------------------------------------------------- progress, interference, cleanup

const benchStarted = performance.now();
function say(message: string): void {
  const elapsed = ((performance.now() - benchStarted) / 1000).toFixed(0).padStart(5);
  process.stderr.write(`[bench ${elapsed}s] ${message}\n`);
}

const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;
const seconds = (milliseconds: number | undefined) => (milliseconds === undefined ? undefined : round(milliseconds / 1000));
const fastest = <T extends { seconds: number }>(samples: T[]): T => samples.reduce((best, sample) => (sample.seconds < best.seconds ? sample : best));

/** What has to go whatever happens: clusters, temp dirs (per size, released after each). Newest first, each once. */
const cleanup = new Releasers(createLogger({ level: 'error' }));
/** What lives as long as the whole run: the snapshot of the build. */
const runCleanup = new Releasers(createLogger({ level: 'error' }));
const interrupt = new AbortController();
const cpu = new CpuMonitor();
let options: Options | undefined;

function onSignal(signal: NodeJS.Signals): void {
  if (interrupt.signal.aborted) {
    say(`second ${signal}: exiting now; leftovers may remain under ${options?.directory ?? tmpdir()} (firedrill-bench-*)`);
    process.exit(130);
  }
  say(`${signal}: stopping and cleaning up (again to exit at once)`);
  interrupt.abort(new Error(`interrupted by ${signal}`));
  // The firedrill CLI cleans up its own sandbox on SIGINT; everything else is simply stopped. Once they are gone,
  // the clusters are stopped at once (which also ends a generation's queries) and the directories removed; the
  // code that was running then fails, and its own cleanup finds everything done.
  const children = runningChildren();
  const gone = children.map((child) => new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(undefined) : child.once('close', resolve))));
  for (const child of children) child.kill(child.spawnfile === process.execPath ? 'SIGINT' : 'SIGTERM');
  void Promise.race([Promise.all(gone), sleep(30_000, undefined, { ref: false })])
    .then(() => cleanup.releaseAll())
    .then(() => runCleanup.releaseAll());
}

function throwIfInterrupted(): void {
  if (interrupt.signal.aborted) throw interrupt.signal.reason;
}

interface Interference {
  /** Cores the rest of the machine kept busy during the step, on average. */
  foreignCores: number | undefined;
  /** Share of the step's time the disk was busy (the step's own I/O included). */
  diskBusy: number | undefined;
  /** CPU seconds of the bench's own process tree during the step: pg_dump, zstd, age, the servers, firedrill. */
  ourCpuSeconds: number | undefined;
  /** MiB read from disk during the step (anyone's): what the page cache did not hold. */
  diskReadMb: number | undefined;
  /** How long the step waited for the machine to be quiet before it started. */
  waitedSeconds: number;
}

/**
 * Reads `warm` (a backup's source files) into the page cache (scripts/bench/cache.ts), flushes dirty pages (so
 * that no step pays for the writeback of the one before), waits for a quiet machine, runs the step, and says how
 * busy the rest of the machine was meanwhile.
 */
async function quietly<T>(work: () => Promise<T>, options: { warm?: string } = {}): Promise<{ value: T; interference: Interference; from: number; to: number }> {
  if (options.warm) await warmPageCache(options.warm);
  await run({ command: 'sync', args: [] });
  const quiet = await cpu.waitForQuiet({ ...QUIET, signal: interrupt.signal });
  if (quiet.foreignCores > QUIET.maxForeignCores) say(`  (the machine is busy: ${quiet.foreignCores} other cores in use; measuring anyway)`);
  throwIfInterrupted();
  const from = Date.now();
  const value = await work();
  const to = Date.now();
  // One more CPU snapshot after the end, so the window is enclosed.
  await sleep(600);
  const use = cpu.use(from, to);
  return {
    value,
    interference: { foreignCores: use?.foreignCores, diskBusy: use?.diskBusy, ourCpuSeconds: use?.oursCpuSeconds, diskReadMb: use?.diskReadMb, waitedSeconds: quiet.waitedSeconds },
    from,
    to,
  };
}

function cpuComparison(...lists: (number | undefined)[][]) {
  const [rawBackup, firedrillBackup, rawRestore, firedrillRestore] = lists.map((list) => {
    const known = list.filter((value) => value !== undefined);
    return known.length > 0 ? Math.min(...known) : undefined;
  });
  const ratio = (a: number | undefined, b: number | undefined) => (a !== undefined && b ? round(a / b, 3) : undefined);
  return { rawBackup, firedrillBackup, backupCpuRatio: ratio(firedrillBackup, rawBackup), rawRestore, firedrillRestore, restoreCpuRatio: ratio(firedrillRestore, rawRestore) };
}

const sampleOf = (interference: Interference) => ({
  foreignCores: interference.foreignCores,
  diskBusy: interference.diskBusy,
  diskReadMb: interference.diskReadMb,
  ourCpuSeconds: interference.ourCpuSeconds,
});

// ---------------------------------------------------------------- one size

interface SizeResult {
  sizeMb: number;
  databaseMb: number;
  databaseWithinTolerance: boolean;
  generationSeconds: number;
  rawBackupSeconds: number;
  firedrillBackupSeconds: number;
  backupRatio: number;
  rawRestoreSeconds: number;
  firedrillRestoreSeconds: number;
  restoreRatio: number;
  peakRssMb: number;
  [key: string]: unknown;
}

async function measureSize(sizeMb: number, opts: Options): Promise<SizeResult> {
  const work = await mkdtemp(join(opts.directory, `firedrill-bench-${sizeMb}-`));
  cleanup.add(`bench directory ${work}`, () => rm(work, { recursive: true, force: true }));
  // The clusters run as the unprivileged sandbox user when we are root: it must be able to reach its directories.
  await chmod(work, 0o711);
  const [server] = (await findTools('postgres')).slice(-1);
  if (!server) throw new Error('no PostgreSQL server binaries (postgres, initdb) were found: install them, e.g. apt-get install postgresql');
  const runAs = await sandboxUser(undefined);
  const password = Secret.fromValue(randomBytes(18).toString('base64url'), 'bench source password');

  say(`${sizeMb} MiB: starting the source cluster (PostgreSQL ${server.version}) in ${work}`);
  const source = await startCluster({ binDir: server.binDir, runAs, listen: 'tcp', superuserPassword: password, settings: SOURCE_SETTINGS, parentDirectory: work });
  const admin = newClient(clientConfig(source.connection('postgres')));
  await admin.connect();
  await admin.query('create database bench');
  await admin.end();
  const sourceConnection = source.connection('bench');

  say(`${sizeMb} MiB: generating the database (${opts.sessions} sessions)`);
  const generated = await generateDatabase(clientConfig(sourceConnection), sizeMb, { sessions: opts.sessions, progress: say });
  throwIfInterrupted();
  const databaseMb = generated.databaseBytes / MIB;
  const withinTolerance = Math.abs(databaseMb / sizeMb - 1) <= SIZE_TOLERANCE;
  say(
    `${sizeMb} MiB: generated ${round(databaseMb, 1)} MiB (pg_database_size; ${withinTolerance ? 'within' : 'OUTSIDE'} ±${SIZE_TOLERANCE * 100}%) ` +
      `in ${generated.seconds.total} s: ${describeRows(generated)}`,
  );

  const pgDump = pickTool(await findTools('pg_dump'), server.major);
  const restoreServer = pickTool(await findTools('postgres'), server.major);
  if (!pgDump || !restoreServer) throw new Error(`no pg_dump / server binaries of major ${server.major} or newer`);
  const dump: Stage = { command: pgDump.path, args: ['--format=custom', '--compress=0', '--no-password'], env: libpqEnvironment(sourceConnection) };
  // Warm-up, not timed: the binaries and the catalogs are read once before anything is measured.
  await run({ ...dump, args: ['--schema-only', '--no-password'] });
  const key = await ageKey(work);
  const rawDump = join(work, 'raw.pgdump.zst');
  // The source's relation files: read into the page cache before each backup, so that both read them from memory.
  const sourceFiles = join(source.directory, 'data', 'base');

  const rawBackups: { seconds: number; dumpMb: number; interference: Interference }[] = [];
  const rawRestores: (RawRestore & { interference: Interference })[] = [];
  const runs: Record<Fingerprint, FiredrillRun[]> = { exact: [], estimate: [] };
  for (let repetition = 1; repetition <= opts.repeat; repetition++) {
    const of = `${sizeMb} MiB, ${repetition}/${opts.repeat}`;
    // (a) raw backup
    say(`${of}: raw backup: pg_dump -Fc -Z0 | zstd -T0 -3 -q > file`);
    const backup = await quietly(() => runPipeline([dump, { command: 'zstd', args: ['-T0', '-3', '-q', '-c'] }], rawDump), { warm: sourceFiles });
    const dumpMb = round((await stat(rawDump)).size / MIB, 1);
    rawBackups.push({ seconds: round(backup.value), dumpMb, interference: backup.interference });
    say(`${of}: raw backup ${round(backup.value)} s, ${dumpMb} MiB (other load: ${backup.interference.foreignCores} cores; disk busy ${backup.interference.diskBusy})`);
    throwIfInterrupted();

    // (c) raw restore, into a running cluster with the sandbox's settings
    say(`${of}: raw restore: zstd -d, then pg_restore --jobs ${JOBS} --no-owner into a running local cluster`);
    const restored = await rawRestore(rawDump, restoreServer.binDir, runAs, work);
    rawRestores.push(restored);
    say(
      `${of}: raw restore ${restored.seconds} s (zstd -d ${restored.decompressSeconds} s, pg_restore ${restored.pgRestoreSeconds} s; ` +
        `other load: ${restored.interference.foreignCores} cores; disk busy ${restored.interference.diskBusy})`,
    );
    throwIfInterrupted();

    // (b) and (d): firedrill
    for (const fingerprint of opts.fingerprints) {
      say(`${of}: firedrill run bench (fingerprint row counts: ${fingerprint})`);
      const measured = await firedrillRun(opts.cli, work, fingerprint, source, password, key, sourceFiles);
      runs[fingerprint].push(measured);
      say(
        `${of}: firedrill backup ${measured.seconds.backup} s, restore ${measured.seconds.restore} s, checks ${measured.seconds.checks} s, ` +
          `peak RSS ${measured.peakRssMb} MiB (whole run ${measured.wholeRunPeakRssMb} MiB; other load: backup ${measured.interference.backup?.foreignCores} cores, ` +
          `restore ${measured.interference.restore?.foreignCores} cores; disk busy: backup ${measured.interference.backup?.diskBusy}, restore ${measured.interference.restore?.diskBusy})`,
      );
      throwIfInterrupted();
    }
  }

  let explained: Record<string, unknown> | undefined;
  if (opts.explain) {
    say(`${sizeMb} MiB: explaining: the backup and restore pipelines piece by piece`);
    explained = await explain({
      work,
      dump,
      key,
      cli: opts.cli,
      say,
      inNodeStages: opts.explainInNode,
      measure: async (step, measureOptions) => {
        const samples: { seconds: number; cpu: number | undefined }[] = [];
        for (let repetition = 1; repetition <= opts.repeat; repetition++) {
          const timed = await quietly(step, { warm: measureOptions?.warmSource ? sourceFiles : undefined });
          samples.push({ seconds: timed.value, cpu: timed.interference.ourCpuSeconds });
        }
        const cpus = samples.map((sample) => sample.cpu).filter((value) => value !== undefined);
        return { seconds: round(Math.min(...samples.map((sample) => sample.seconds))), cpuSeconds: cpus.length > 0 ? Math.min(...cpus) : undefined };
      },
    });
  }
  await rm(rawDump, { force: true });
  await source.stop();

  const rawBackup = fastest(rawBackups);
  const rawRestore_ = fastest(rawRestores);
  const main = runs[opts.fingerprints[0] as Fingerprint];
  const bestBackup = main.reduce((best, entry) => (entry.seconds.backup < best.seconds.backup ? entry : best));
  const bestRestore = main.reduce((best, entry) => (entry.seconds.restore < best.seconds.restore ? entry : best));
  const peakRssMb = Math.max(...main.map((entry) => entry.peakRssMb));
  const sandboxStart = bestRestore.sandboxStartOnCriticalPath;
  const fetch = bestRestore.restorePhases['restore.fetch'] ?? 0;
  const load = bestRestore.restorePhases['restore.load'] ?? 0;
  const samplesOf = (entries: FiredrillRun[], phase: 'backup' | 'restore') =>
    entries.map((entry) => ({ seconds: entry.seconds[phase], ...entry.interference[phase] }));
  const estimate = runs.estimate.length > 0 && opts.fingerprints[0] === 'exact' ? runs.estimate : undefined;
  return {
    sizeMb,
    databaseMb: round(databaseMb, 1),
    databaseWithinTolerance: withinTolerance,
    generationSeconds: generated.seconds.total,
    rawBackupSeconds: rawBackup.seconds,
    firedrillBackupSeconds: bestBackup.seconds.backup,
    backupRatio: round(bestBackup.seconds.backup / rawBackup.seconds, 3),
    rawRestoreSeconds: rawRestore_.seconds,
    firedrillRestoreSeconds: bestRestore.seconds.restore,
    restoreRatio: round(bestRestore.seconds.restore / rawRestore_.seconds, 3),
    peakRssMb,
    restoreBreakdown: {
      firedrill: bestRestore.restorePhases,
      raw: { decompressSeconds: rawRestore_.decompressSeconds, pgRestoreSeconds: rawRestore_.pgRestoreSeconds, totalSeconds: rawRestore_.seconds },
      // firedrill pays an initdb and server start that the raw restore does not (its cluster already runs);
      // this much of it the restore waited for (the rest overlapped the fetch).
      sandboxStartOnCriticalPathSeconds: sandboxStart,
      restoreRatioWithoutSandboxStart: round((bestRestore.seconds.restore - sandboxStart) / rawRestore_.seconds, 3),
      fetchVersusZstdDecompress: round(fetch / rawRestore_.decompressSeconds, 3),
      loadVersusPgRestore: round(load / rawRestore_.pgRestoreSeconds, 3),
    },
    backupBreakdown: { firedrill: bestBackup.backupPhases, raw: { pipelineSeconds: rawBackup.seconds } },
    // CPU seconds of everything involved (the bench's process tree: pg_dump, zstd, age, firedrill, the servers' backends),
    // the least of the repeats: steadier than wall time on a shared machine, and what the two cores had to do.
    cpuSeconds: cpuComparison(
      rawBackups.map((entry) => entry.interference.ourCpuSeconds),
      main.map((entry) => entry.interference.backup?.ourCpuSeconds),
      rawRestores.map((entry) => entry.interference.ourCpuSeconds),
      main.map((entry) => entry.interference.restore?.ourCpuSeconds),
    ),
    fingerprintRowCounts: opts.fingerprints[0],
    repeat: opts.repeat,
    samples: {
      rawBackup: rawBackups.map(({ seconds: value, interference }) => ({ seconds: value, ...sampleOf(interference) })),
      firedrillBackup: samplesOf(main, 'backup'),
      rawRestore: rawRestores.map(({ seconds: value, interference }) => ({ seconds: value, ...sampleOf(interference) })),
      firedrillRestore: samplesOf(main, 'restore'),
      peakRssMb: main.map((entry) => entry.peakRssMb),
    },
    generation: { ...generated.seconds, rows: generated.rows, sessions: opts.sessions },
    sizesMb: { database: round(databaseMb, 1), pgDumpArchive: rawRestore_.archiveMb, rawBackup: rawBackup.dumpMb, firedrillBackup: bestBackup.backupMb },
    firedrill: { memory: bestRestore.memory, nodeCpuSecondsByPhase: bestRestore.nodeCpuSeconds, checksSeconds: bestRestore.seconds.checks, cliWallSeconds: bestRestore.cliWallSeconds },
    ...(estimate
      ? {
          estimateFingerprint: {
            firedrillBackupSeconds: Math.min(...estimate.map((entry) => entry.seconds.backup)),
            backupRatio: round(Math.min(...estimate.map((entry) => entry.seconds.backup)) / rawBackup.seconds, 3),
            firedrillRestoreSeconds: Math.min(...estimate.map((entry) => entry.seconds.restore)),
            peakRssMb: Math.max(...estimate.map((entry) => entry.peakRssMb)),
            backupPhases: estimate.reduce((best, entry) => (entry.seconds.backup < best.seconds.backup ? entry : best)).backupPhases,
            samples: { firedrillBackup: samplesOf(estimate, 'backup'), firedrillRestore: samplesOf(estimate, 'restore') },
          },
        }
      : {}),
    ...(explained ? { explain: explained } : {}),
  };
}

function describeRows(generated: GeneratedDatabase): string {
  return Object.entries(generated.rows)
    .map(([table, count]) => `${table} ${count.toLocaleString('en')}`)
    .join(', ');
}

async function startCluster(settings: {
  binDir: string;
  runAs: Awaited<ReturnType<typeof sandboxUser>>;
  listen: 'tcp' | 'socket';
  superuserPassword?: Secret;
  settings?: Record<string, string>;
  parentDirectory: string;
}): Promise<StartedLocalCluster> {
  return startLocalCluster({
    ...settings,
    owner: { runId: `bench-${process.pid}`, drill: 'bench' },
    logger: silentLogger,
    signal: interrupt.signal,
    releasers: cleanup,
  });
}

interface RawRestore {
  seconds: number;
  /** The uncompressed pg_dump archive. */
  archiveMb: number;
  decompressSeconds: number;
  pgRestoreSeconds: number;
}

async function rawRestore(dumpPath: string, binDir: string, runAs: Awaited<ReturnType<typeof sandboxUser>>, work: string): Promise<RawRestore & { interference: Interference }> {
  // No settings of our own: startLocalCluster applies THROWAWAY_SETTINGS, exactly as firedrill's local sandbox does.
  const cluster = await startCluster({ binDir, runAs, listen: 'socket', parentDirectory: work });
  const archive = join(work, 'raw.pgdump');
  try {
    const admin = newClient(clientConfig(cluster.connection('postgres')));
    await admin.connect();
    // As firedrill's restore.prepare creates it.
    await admin.query(`create database bench template template0 encoding 'UTF8' lc_collate 'C' lc_ctype 'C'`);
    await admin.end();
    const timed = await quietly(async () => {
      const started = performance.now();
      const decompressed = await run({ command: 'zstd', args: ['-d', '-q', '-f', dumpPath, '-o', archive] });
      throwIfInterrupted();
      const restored = await run({
        command: join(binDir, 'pg_restore'),
        args: ['--exit-on-error', '--no-owner', `--jobs=${JOBS}`, '--dbname=bench', archive],
        env: libpqEnvironment(cluster.connection('bench')),
      });
      return {
        seconds: round((performance.now() - started) / 1000),
        archiveMb: round((await stat(archive)).size / MIB, 1),
        decompressSeconds: round(decompressed.seconds),
        pgRestoreSeconds: round(restored.seconds),
      };
    });
    return { ...timed.value, interference: timed.interference };
  } finally {
    await rm(archive, { force: true });
    await cluster.stop();
  }
}

// ---------------------------------------------------------------- firedrill

export interface AgeKey {
  recipient: string;
  identity: string;
  /** The identity alone, 0600. */
  file: string;
}

async function ageKey(work: string): Promise<AgeKey> {
  const generated = join(work, 'age-keygen.txt');
  await run({ command: 'age-keygen', args: ['-o', generated] });
  const keyText = await readFile(generated, 'utf8');
  await rm(generated);
  const recipient = /public key: (age1[0-9a-z]+)/.exec(keyText)?.[1];
  const identity = /^AGE-SECRET-KEY-1[0-9A-Z]+$/m.exec(keyText)?.[0];
  if (!recipient || !identity) throw new Error('age-keygen wrote no key pair that could be read');
  const file = join(work, 'age-key.txt');
  await writeFile(file, `${identity}\n`, { mode: 0o600 });
  return { recipient, identity, file };
}

async function firedrillWorkspace(work: string, fingerprint: Fingerprint, source: StartedLocalCluster, key: AgeKey): Promise<string> {
  const workspace = join(work, `firedrill-${fingerprint}`);
  await mkdir(join(workspace, 'config'), { recursive: true });
  await mkdir(join(workspace, 'drills'), { recursive: true });
  await writeFile(
    join(workspace, 'config/firedrill.yaml'),
    [
      'repositories:',
      '  bench:',
      '    type: local',
      '    path: ./var/backups',
      '    compression: zstd',
      '    compressionLevel: 3',
      `    encryption: { recipients: [${key.recipient}], identity: { file: ${JSON.stringify(key.file)} } }`,
      'defaults: { repository: bench, sandbox: local }',
      'reports: { dir: ./var/reports }',
      '',
    ].join('\n'),
  );
  await writeFile(
    join(workspace, 'drills/bench.yaml'),
    [
      'description: npm run bench',
      `source: { type: postgres, url: "postgres://postgres@127.0.0.1:${source.port}/bench", password: { env: BENCH_SOURCE_PASSWORD } }`,
      fingerprint === 'exact' ? 'backup: { repository: bench }' : 'backup: { repository: bench, fingerprint: { rowCounts: estimate } }',
      `restore: { sandbox: local, jobs: ${JOBS} }`,
      'checks:',
      '  - { type: fingerprint }',
      '',
    ].join('\n'),
  );
  return workspace;
}

/** Seconds covered by at least one of the intervals (Date.now() milliseconds). */
function unionSeconds(intervals: { start: number; end: number }[]): number {
  let covered = 0;
  let reach = -Infinity;
  for (const { start, end } of [...intervals].sort((a, b) => a.start - b.start)) {
    if (end <= reach) continue;
    covered += end - Math.max(start, reach);
    reach = end;
  }
  return covered / 1000;
}

/** How busy the machine was during a phase: the rest of it, the disk, and our own process tree (firedrill, its children, the servers). */
interface PhaseUse {
  foreignCores: number;
  diskBusy: number;
  diskReadMb: number;
  ourCpuSeconds: number;
}

interface FiredrillRun {
  seconds: { backup: number; restore: number; checks: number };
  /** The sandbox start that the restore waited for (not overlapped by the fetch). */
  sandboxStartOnCriticalPath: number;
  backupPhases: Record<string, number>;
  restorePhases: Record<string, number>;
  interference: { backup: PhaseUse | undefined; restore: PhaseUse | undefined };
  peakRssMb: number;
  wholeRunPeakRssMb: number;
  memory: ReturnType<typeof memoryByPhase>;
  nodeCpuSeconds: Record<string, number | undefined>;
  backupMb: number;
  cliWallSeconds: number;
}

async function firedrillRun(
  cli: string,
  work: string,
  fingerprint: Fingerprint,
  source: StartedLocalCluster,
  password: Secret,
  key: AgeKey,
  sourceFiles: string,
): Promise<FiredrillRun> {
  const workspace = await firedrillWorkspace(work, fingerprint, source, key);
  const { value: measured } = await quietly(
    () =>
      runMeasured(cli, ['--log-level', 'warn', 'run', 'bench', '--json'], {
        cwd: workspace,
        // TMPDIR: the fetched objects and the sandbox cluster go into the bench directory, on the same disk as the raw restore's.
        env: { BENCH_SOURCE_PASSWORD: password.reveal(), TMPDIR: work },
      }),
    { warm: sourceFiles },
  );
  throwIfInterrupted();
  let report: Report;
  try {
    report = JSON.parse(measured.stdout) as Report;
  } catch {
    throw new Error(`firedrill exited with ${measured.code} and printed no report: ${measured.stdout.slice(0, 2000)}`);
  }
  if (report.status !== 'passed') throw new Error(`firedrill run bench did not pass (${report.status}): ${report.summary}`);
  const phase = (name: string) => report.phases.find((entry) => entry.name === name);
  const window = (name: string) => {
    const entry = phase(name);
    return entry ? { start: Date.parse(entry.startedAt), end: Date.parse(entry.startedAt) + entry.durationMs } : undefined;
  };
  const phaseSeconds = (prefix: string) =>
    Object.fromEntries(report.phases.filter((entry) => entry.name === prefix || entry.name.startsWith(`${prefix}.`)).map((entry) => [entry.name, seconds(entry.durationMs) ?? 0]));
  const backup = phase('backup');
  const restore = phase('restore');
  if (!backup || !restore) throw new Error('the report has no backup or restore phase');
  const restorePhases = phaseSeconds('restore');
  const parts = ['restore.fetch', 'restore.sandbox', 'restore.prepare', 'restore.copy', 'restore.load'];
  // Sub-phases may overlap (the sandbox starts while the backup is fetched): what is left is the restore minus their union.
  const intervals = parts.map(window).filter((range) => range !== undefined);
  restorePhases['restore (rest: outside the sub-phases)'] = round((restorePhases.restore ?? 0) - unionSeconds(intervals));
  // The part of the sandbox start that the restore waited for: what did not overlap the fetch.
  const sandboxRange = window('restore.sandbox');
  const fetchRange = window('restore.fetch');
  const sandboxStartOnCriticalPath = sandboxRange
    ? round(unionSeconds(fetchRange ? [sandboxRange, fetchRange] : [sandboxRange]) - (fetchRange ? (fetchRange.end - fetchRange.start) / 1000 : 0))
    : 0;

  // The CLI's own CPU seconds within a phase: the samples' cumulative CPU at its end minus at its start.
  const nodeCpu = (name: string) => {
    const range = window(name);
    if (!range) return undefined;
    const before = measured.samples.findLast((sample) => sample.at <= range.start) ?? measured.samples[0];
    const after = measured.samples.findLast((sample) => sample.at <= range.end);
    return before && after ? round(after.cpuSeconds - before.cpuSeconds) : undefined;
  };
  const foreign = (name: string): PhaseUse | undefined => {
    const range = window(name);
    const use = range ? cpu.use(range.start, range.end) : undefined;
    return use ? { foreignCores: use.foreignCores, diskBusy: use.diskBusy, diskReadMb: use.diskReadMb, ourCpuSeconds: use.oursCpuSeconds } : undefined;
  };
  // The backup is not needed any more: its disk space is, for the next run.
  await rm(join(workspace, 'var/backups'), { recursive: true, force: true });
  const memory = memoryByPhase(measured, report);
  return {
    seconds: { backup: seconds(backup.durationMs) ?? 0, restore: seconds(restore.durationMs) ?? 0, checks: seconds(phase('checks')?.durationMs) ?? 0 },
    backupPhases: phaseSeconds('backup'),
    restorePhases,
    sandboxStartOnCriticalPath,
    interference: { backup: foreign('backup'), restore: foreign('restore') },
    peakRssMb: memory.backupAndRestorePeakMb,
    wholeRunPeakRssMb: memory.wholeRunPeakMb,
    memory,
    nodeCpuSeconds: Object.fromEntries(['backup', 'backup.dump', 'restore', 'restore.fetch', 'restore.load', 'checks'].map((name) => [name, nodeCpu(name)])),
    backupMb: round((report.backup?.sizeBytes ?? 0) / MIB, 1),
    cliWallSeconds: round(measured.wallSeconds),
  };
}

/** VmHWM as of the end of the restore phase, the highest VmRSS sampled in each phase, and the samples' count. */
function memoryByPhase(measured: MeasuredRun, report: Report) {
  const window = (name: string) => {
    const entry = report.phases.find((candidate) => candidate.name === name);
    if (!entry) return undefined;
    const start = Date.parse(entry.startedAt);
    return { start, end: start + entry.durationMs };
  };
  const maxRss = (range: { start: number; end: number } | undefined) => {
    if (!range) return undefined;
    const inside = measured.samples.filter((sample) => sample.at >= range.start && sample.at <= range.end);
    return inside.length > 0 ? round(Math.max(...inside.map((sample) => sample.rssBytes)) / MIB, 1) : undefined;
  };
  const restore = window('restore');
  const untilRestoreEnd = measured.samples.filter((sample) => restore && sample.at <= restore.end);
  const firstSample = measured.samples[0];
  return {
    method: 'VmHWM/VmRSS of the firedrill CLI process from /proc/<pid>/status every 50 ms; child processes not counted',
    backupAndRestorePeakMb: round(Math.max(0, ...untilRestoreEnd.map((sample) => sample.hwmBytes)) / MIB, 1),
    wholeRunPeakMb: round(measured.peakRssBytes / MIB, 1),
    /** Before the backup starts: Node and the modules firedrill loads at start. */
    beforeBackupRssMb: round(Math.max(firstSample?.rssBytes ?? 0, ...measured.samples.filter((sample) => sample.at < (window('backup')?.start ?? 0)).map((sample) => sample.rssBytes)) / MIB, 1),
    maxRssMbByPhase: Object.fromEntries(['backup', 'backup.dump', 'restore', 'restore.fetch', 'restore.load', 'checks'].map((name) => [name, maxRss(window(name))])),
    samples: measured.samples.length,
  };
}

// ---------------------------------------------------------------- main

/** A private copy of dist/ (and package.json, for the version and ESM), its packages found through a symlink. */
async function snapshotBuild(directory: string): Promise<string> {
  const snapshot = await mkdtemp(join(directory, 'firedrill-bench-build-'));
  runCleanup.add(`build snapshot ${snapshot}`, () => rm(snapshot, { recursive: true, force: true }));
  await cp(join(ROOT, 'dist'), join(snapshot, 'dist'), { recursive: true });
  await cp(join(ROOT, 'package.json'), join(snapshot, 'package.json'));
  await symlink(join(ROOT, 'node_modules'), join(snapshot, 'node_modules'));
  return join(snapshot, 'dist/cli/bin.js');
}

function judge(results: SizeResult[]) {
  const worst = (pick: (result: SizeResult) => number) => Math.max(...results.map(pick));
  const smallest = results.reduce((a, b) => (b.sizeMb < a.sizeMb ? b : a));
  const largest = results.reduce((a, b) => (b.sizeMb >= a.sizeMb ? b : a));
  const growth = results.length > 1 ? round(largest.peakRssMb / smallest.peakRssMb, 3) : undefined;
  const target = (limit: number, measured: number) => ({ limit, measured, met: measured <= limit });
  const targets = {
    backupRatio: { ...target(TARGETS.backupRatio, worst((result) => result.backupRatio)), judged: 'the worst size' },
    restoreRatio: { ...target(TARGETS.restoreRatio, worst((result) => result.restoreRatio)), judged: 'the worst size' },
    peakRssMb: { ...target(TARGETS.peakRssMb, worst((result) => result.peakRssMb)), judged: 'the worst size' },
    peakRssGrowth:
      growth === undefined
        ? { limit: TARGETS.peakRssGrowth, measured: null, met: null, judged: 'largest over smallest size: needs two sizes' }
        : { ...target(TARGETS.peakRssGrowth, growth), judged: 'largest over smallest size (flat memory)' },
  };
  const missed = Object.entries(targets)
    .filter(([, entry]) => entry.met === false)
    .map(([name, entry]) => `${name} ${entry.measured} > ${entry.limit}`);
  return { largest, growth, targets, missed };
}

async function main(): Promise<void> {
  options = parseOptions();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  await stat(options.cli).catch(() => {
    throw new Error(`${options?.cli} is missing: run \`npm run build\` first (npm run bench does)`);
  });
  // The build just made is copied: others rebuilding dist/ during a long run must not change (or break) what is measured.
  const requestedCli = options.cli;
  const cli = options.cli === BUILT_CLI ? await snapshotBuild(options.directory) : options.cli;
  options.cli = cli;
  const commit = await run({ command: 'git', args: ['-C', ROOT, 'rev-parse', '--short', 'HEAD'] }).then(
    (result) => result.stdout.trim(),
    () => 'unknown',
  );
  cpu.start();
  say(
    `sizes ${options.sizesMb.join(', ')} MiB, each step ${options.repeat}x (the fastest counts); work directory under ${options.directory}; ` +
      `node ${process.version}; ${availableParallelism()} cores; firedrill ${requestedCli} (commit ${commit}, run from ${cli})`,
  );
  const results: SizeResult[] = [];
  try {
    for (const sizeMb of options.sizesMb) {
      results.push(await measureSize(sizeMb, options));
      // Each size cleans up after itself before the next one starts: disk space and memory are the next one's.
      await cleanup.releaseAll();
    }
  } finally {
    await cleanup.releaseAll();
    await runCleanup.releaseAll();
    cpu.stop();
  }
  const { largest, growth, targets, missed } = judge(results);
  const output = {
    benchmark: 'firedrill backup and restore (local repository: zstd -3 + age; local sandbox, jobs 2) against pg_dump | zstd and zstd -d + pg_restore --jobs 2',
    ...largest,
    ...(results.length > 1 ? { sizes: results, peakRssGrowth: growth } : {}),
    targets,
    allTargetsMet: missed.length === 0,
    missedTargets: missed,
    environment: { node: process.version, cores: availableParallelism(), directory: options.directory, cli: requestedCli, commit },
  };
  for (const result of results) {
    say(
      `${result.sizeMb} MiB (${result.databaseMb} MiB): backup ${result.rawBackupSeconds} s raw vs ${result.firedrillBackupSeconds} s firedrill (${result.backupRatio}x); ` +
        `restore ${result.rawRestoreSeconds} s raw vs ${result.firedrillRestoreSeconds} s firedrill (${result.restoreRatio}x); peak RSS ${result.peakRssMb} MiB`,
    );
  }
  for (const [name, entry] of Object.entries(targets)) {
    say(`target ${name} <= ${entry.limit} (${entry.judged}): ${entry.met === null ? 'not measured' : entry.met ? 'met' : 'MISSED'}: ${entry.measured ?? '-'}`);
  }
  if (missed.length > 0) say(`MISSED TARGETS: ${missed.join('; ')}`);
  console.log(JSON.stringify(output));
}

try {
  await main();
} catch (error) {
  const interrupted = interrupt.signal.aborted;
  say(interrupted ? 'interrupted; cleaned up' : `failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exitCode = interrupted ? 130 : 1;
}
