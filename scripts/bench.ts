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
 * pg_dump and pg_restore are separate processes and not counted.
 */
import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { startDemoSource } from '../src/demo/demo-source.ts';
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
  const results = [];
  for (const size of SIZES) results.push(await measure(size.label, size.payloadRows));
  const [large, larger] = results.slice(-2) as [Measured, Measured];
  const memoryGrowth = larger.firedrillPeakRssBytes / large.firedrillPeakRssBytes;
  const dataGrowth = larger.databaseBytes / large.databaseBytes;
  const peak = Math.max(...results.map((result) => result.firedrillPeakRssBytes));
  const output = {
    benchmark: 'firedrill run (backup, restore, checks) of PostgreSQL databases of three sizes, side by side',
    node: process.version,
    sizes: results,
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

async function measure(label: string, payloadRows: number): Promise<Measured> {
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
        'restore: { jobs: 2 }',
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
      report.phases.filter((phase) => ['backup', 'backup.dump', 'restore', 'restore.load', 'checks'].includes(phase.name)).map((phase) => [phase.name, round(phase.durationMs / 1000)]),
    );
    const backupBytes = report.backup?.sizeBytes ?? 0;
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

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

await main();
