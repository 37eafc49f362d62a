/**
 * `npm run bench`: drills three databases of growing size (about 30, 220 and
 * 440 MB) side by side in one run, and prints JSON with what each took and
 * how much memory firedrill itself used. The memory targets: firedrill's peak
 * RSS stays under a ceiling, and does not grow when the data doubles (a
 * backup is streamed, never held in memory; the step from the smallest size
 * up is the garbage collector's slack at full throughput, not data).
 *
 * firedrill runs as the CLI, in its own process, and its peak RSS is
 * /proc/<pid>/status VmHWM (the kernel's high-water mark), read until it exits.
 * pg_dump and pg_restore are separate processes and not counted. The drills
 * restore into the default sandbox (a container when Docker answers).
 *
 * With Docker, the largest dump is also restored into a container three ways,
 * each in a fresh container: copied in through the Docker API then
 * `pg_restore --jobs 2` (what firedrill does), streamed into `docker exec
 * pg_restore` on stdin (no --jobs possible: it needs a seekable file), and
 * streamed into `docker exec cat` then `pg_restore --jobs 2`.
 */
import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { createReadStream } from 'node:fs';
import { startDemoSource } from '../src/demo/demo-source.ts';
import { DockerSandbox, dockerSandboxSchema } from '../src/sandbox/docker-sandbox.ts';
import { dockerClient, dockerReachable } from '../src/docker/docker-client.ts';
import { execInContainer } from '../src/docker/docker-exec.ts';
import { DrillRunContext } from '../src/drill/run-context.ts';
import { connect, disconnect } from '../src/engines/postgres/session.ts';
import { findTools } from '../src/engines/postgres/postgres-tools.ts';
import { clientConfig } from '../src/engines/postgres/postgres-connection.ts';
import { silentLogger } from '../src/logger.ts';
import type { Report } from '../src/report/report.ts';

const CLI = resolve(import.meta.dirname, '../dist/cli/bin.js');
const SIZES = [
  { label: 'small', payloadRows: 60_000 },
  { label: 'large', payloadRows: 600_000 },
  { label: 'larger', payloadRows: 1_200_000 },
];
/** Peak RSS of the largest run over the second largest, while the data doubles. */
const MEMORY_GROWTH_LIMIT = 1.2;
const MEMORY_CEILING_BYTES = 256 * 1024 * 1024;

async function main(): Promise<void> {
  const docker = await dockerReachable();
  const results = [];
  let transfers: Awaited<ReturnType<typeof compareTransfers>> | undefined;
  for (const [index, size] of SIZES.entries()) {
    const last = index === SIZES.length - 1;
    results.push(await measure(size.label, size.payloadRows, last && docker ? async (dumpPath) => (transfers = await compareTransfers(dumpPath)) : undefined));
  }
  const [large, larger] = results.slice(-2) as [Measured, Measured];
  const memoryGrowth = larger.firedrillPeakRssBytes / large.firedrillPeakRssBytes;
  const dataGrowth = larger.databaseBytes / large.databaseBytes;
  const peak = Math.max(...results.map((result) => result.firedrillPeakRssBytes));
  const output = {
    benchmark: 'firedrill run (backup, restore, checks) of PostgreSQL databases of three sizes, side by side',
    node: process.version,
    sandbox: docker ? 'docker' : 'local',
    sizes: results,
    ...(transfers ? { dockerTransfer: transfers } : {}),
    targets: {
      flatMemory: {
        limit: `peak RSS of the ${larger.label} run at most ${MEMORY_GROWTH_LIMIT}x that of the ${large.label} run (data ${round(dataGrowth)}x)`,
        measured: round(memoryGrowth),
        met: memoryGrowth <= MEMORY_GROWTH_LIMIT,
      },
      memoryCeiling: { limit: `peak RSS at most ${MEMORY_CEILING_BYTES / 1_048_576} MiB`, measuredMiB: round(peak / 1_048_576), met: peak <= MEMORY_CEILING_BYTES },
    },
  };
  console.log(JSON.stringify(output, null, 2));
  if (!Object.values(output.targets).every((target) => target.met)) process.exitCode = 1;
}

interface Measured {
  label: string;
  databaseBytes: number;
  backupBytes: number;
  status: string;
  wallSeconds: number;
  phases: Record<string, number>;
  rtoSeconds: number | null;
  firedrillPeakRssBytes: number;
  dumpMegabytesPerSecond: number;
}

async function measure(label: string, payloadRows: number, withDump?: (path: string) => Promise<unknown>): Promise<Measured> {
  const source = await startDemoSource({ logger: silentLogger, seed: { customers: 2_000, products: 200, orders: Math.round(payloadRows / 10) } });
  const workspace = await mkdtemp(join(tmpdir(), `firedrill-bench-${label}-`));
  try {
    const client = new pg.Client(clientConfig(source.connection));
    await client.connect();
    // Rows that compress like real data do (hex text), not like repeated bytes.
    await client.query(`create table events (id bigint primary key, payload text not null);
      insert into events select g, md5(g::text) || md5((g * 7)::text) || md5((g * 13)::text) || md5((g * 31)::text)
        || md5((g * 37)::text) || md5((g * 41)::text) || md5((g * 43)::text) || md5((g * 47)::text)
      from generate_series(1, ${payloadRows}) g; analyze;`);
    const databaseBytes = Number((await client.query<{ size: string }>('select pg_database_size(current_database()) as size')).rows[0]?.size);
    await client.end();

    await mkdir(join(workspace, 'drills'));
    await chmod(workspace, 0o755);
    await writeFile(
      join(workspace, 'drills/bench.yaml'),
      [
        'source: { type: postgres, url: "${SOURCE_URL}", password: { env: SOURCE_PASSWORD } }',
        'backup: { jobs: 2 }',
        'restore: { sandbox: auto, jobs: 2 }',
        'checks:',
        `  - { name: events, type: sql, query: "select count(*) from events", expect: { equals: ${payloadRows} } }`,
        '  - { type: fingerprint }',
        '',
      ].join('\n'),
    );
    const started = performance.now();
    const { stdout, peakRss } = await runMeasured(['run', 'bench', '--json'], workspace, { SOURCE_URL: source.url, SOURCE_PASSWORD: source.password.reveal() });
    const wallSeconds = (performance.now() - started) / 1000;
    const report = JSON.parse(stdout) as Report;
    const phases = Object.fromEntries(
      report.phases.filter((phase) => ['backup', 'backup.dump', 'restore', 'restore.sandbox', 'restore.copy', 'restore.load', 'checks'].includes(phase.name)).map((phase) => [phase.name, round(phase.durationMs / 1000)]),
    );
    const backupBytes = report.backup?.sizeBytes ?? 0;
    if (report.status !== 'passed') throw new Error(`the ${label} drill did not pass: ${report.summary}`);
    await withDump?.(join(workspace, 'var/backups/bench', report.backup?.id ?? '', 'source.pgdump'));
    return {
      label,
      databaseBytes,
      backupBytes,
      status: report.status,
      wallSeconds: round(wallSeconds),
      phases,
      rtoSeconds: report.measured.rtoSeconds,
      firedrillPeakRssBytes: peakRss,
      dumpMegabytesPerSecond: round(backupBytes / 1_048_576 / (phases['backup.dump'] ?? 1)),
    };
  } finally {
    await source.stop();
    await rm(workspace, { recursive: true, force: true });
  }
}

/** Runs the CLI and follows its VmHWM (peak resident memory) until it exits. */
async function runMeasured(args: string[], cwd: string, env: Record<string, string>): Promise<{ stdout: string; peakRss: number }> {
  const child = spawn(process.execPath, [CLI, '--log-level', 'warn', ...args], { cwd, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  let peakRss = 0;
  const sampler = setInterval(() => {
    void readFile(`/proc/${child.pid}/status`, 'utf8').then(
      (status) => {
        const kilobytes = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
        peakRss = Math.max(peakRss, kilobytes * 1024);
      },
      () => undefined,
    );
  }, 20);
  const code = await new Promise<number | null>((resolveExit) => child.on('close', resolveExit));
  clearInterval(sampler);
  if (code !== 0) throw new Error(`firedrill exited with ${code}: ${stdout.slice(0, 2000)}`);
  return { stdout, peakRss };
}

/** The same dump restored into fresh containers three ways; seconds to get it in, to restore it, and both. */
async function compareTransfers(dumpPath: string) {
  const sandbox = new DockerSandbox('bench', dockerSandboxSchema.parse({ type: 'docker' }));
  const client = await dockerClient();
  const restoreArgs = ['--exit-on-error', '--no-owner', '--no-privileges', '--dbname=bench'];
  const ways: Record<string, (container: ReturnType<typeof client.container.getById>, stage: (path: string) => Promise<string>) => Promise<{ transfer: number; restore: number }>> = {
    'copy into the container (Docker API), then pg_restore --jobs 2': async (container, stage) => {
      const started = performance.now();
      const staged = await stage(dumpPath);
      const copied = performance.now();
      await execInContainer(container, ['pg_restore', ...restoreArgs, '--jobs=2', staged], { label: 'pg_restore', env: { PGUSER: 'postgres' } }).succeeded;
      return { transfer: (copied - started) / 1000, restore: (performance.now() - copied) / 1000 };
    },
    'stream into docker exec pg_restore (stdin, one job)': async (container) => {
      const started = performance.now();
      await execInContainer(container, ['pg_restore', ...restoreArgs], { label: 'pg_restore', env: { PGUSER: 'postgres' }, stdin: createReadStream(dumpPath) }).succeeded;
      return { transfer: 0, restore: (performance.now() - started) / 1000 };
    },
    'stream into docker exec cat, then pg_restore --jobs 2': async (container) => {
      const started = performance.now();
      await execInContainer(container, ['sh', '-c', 'cat > /tmp/bench.pgdump'], { label: 'cat', stdin: createReadStream(dumpPath) }).succeeded;
      const copied = performance.now();
      await execInContainer(container, ['pg_restore', ...restoreArgs, '--jobs=2', '/tmp/bench.pgdump'], { label: 'pg_restore', env: { PGUSER: 'postgres' } }).succeeded;
      return { transfer: (copied - started) / 1000, restore: (performance.now() - copied) / 1000 };
    },
  };
  const results: Record<string, { transferSeconds: number; restoreSeconds: number; totalSeconds: number }> = {};
  for (const [way, run] of Object.entries(ways)) {
    const context = new DrillRunContext({ runId: `bench-${Date.now()}`, drillName: 'bench', logger: silentLogger, signal: new AbortController().signal, clock: () => new Date() });
    try {
      const started = await sandbox.start(context, { minimumServerMajor: (await findTools('postgres')).at(-1)?.major ?? 0 });
      const admin = await connect(started.connection('postgres'));
      await admin.query('create database bench');
      await disconnect(admin, started.connection('postgres'), { cancel: false });
      const { transfer, restore } = await run(client.container.getById(started.id), (path) => started.stageFile(path, context.signal));
      results[way] = { transferSeconds: round(transfer), restoreSeconds: round(restore), totalSeconds: round(transfer + restore) };
    } finally {
      await context.releasers.releaseAll();
    }
  }
  const fastest = Object.entries(results).sort((a, b) => a[1].totalSeconds - b[1].totalSeconds)[0]?.[0];
  return { dumpBytes: (await stat(dumpPath)).size, ways: results, fastest };
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

await main();
