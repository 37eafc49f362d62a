/**
 * `--explain`: where firedrill's extra time and memory go, measured piece by
 * piece on the same source after the main measurements. Each variant is
 * timed like the main steps (quiet machine, repeated, the fastest counts).
 *
 * Backup variants, each a complete pg_dump of the source:
 *   raw              pg_dump | zstd > file                  (the baseline again)
 *   raw + age        pg_dump | zstd | age -r KEY > file     (OS pipes: what encryption alone costs)
 *   node stages      pg_dump's output through Node: count → zstd → age → SHA-256 → file (fsync), with
 *                    firedrill's in-Node stages (encodingStages: used when pg_dump runs in a container
 *                    or the zstd binary is missing; the only design before process chains)
 *   process chain    firedrill's storeObject as it is now for a pg_dump on this machine:
 *                    encodedByProcesses (pg_dump | zstd | age over OS pipes), then SHA-256 → file (fsync)
 * Restore variants, from the objects those wrote:
 *   raw              zstd -d file -o out
 *   raw + age        age -d -i KEY file | zstd -d > out     (OS pipes)
 *   decodeObject     firedrill's restore.fetch: read → SHA-256 → age -d → zstd -d → write, every byte
 *                    (the decompressed ones included) through Node
 *   proposed         Node reads and hashes the stored bytes into age -d, whose output reaches zstd -d
 *                    by an OS pipe; zstd writes the file itself (no decompressed byte in Node)
 * A chunk census (untimed) counts the pieces bytes reach Node in; and the
 * firedrill CLI's resident memory right after start (`--version`).
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform, Writable, type TransformCallback } from 'node:stream';
import { spawn, type ChildProcess } from 'node:child_process';
import { ByteCounter, decodeObject, encodedByProcesses, encodingStages, type StorageEncoding } from '../../src/pipeline/object-codec.ts';
import { HashingStream } from '../../src/pipeline/hashing.ts';
import { Secret } from '../../src/secret.ts';
import { run, runMeasured, runPipeline, type Stage } from './processes.ts';

const MIB = 1024 * 1024;
const round = (value: number) => Math.round(value * 100) / 100;

/** Counts the chunks Node handles: their number and mean size say what each costs. */
class ChunkCounter extends Transform {
  chunks = 0;
  bytes = 0;
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.chunks++;
    this.bytes += chunk.length;
    callback(null, chunk);
  }
}
/** A file writer that counts what it is given first. */
function countingFile(counter: ChunkCounter, path: string): Writable {
  const file = createWriteStream(path, { mode: 0o600 });
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      counter.chunks++;
      counter.bytes += chunk.length;
      if (file.write(chunk)) callback();
      else file.once('drain', () => callback());
    },
    final(callback) {
      file.end(() => callback());
    },
    destroy(error, callback) {
      file.destroy();
      callback(error);
    },
  });
}

const chunkStats: Record<string, { chunks: number; meanChunkBytes: number }> = {};
function noteChunks(name: string, counter: ChunkCounter): void {
  chunkStats[name] = { chunks: counter.chunks, meanChunkBytes: Math.round(counter.bytes / Math.max(1, counter.chunks)) };
}

function exited(child: ChildProcess, label: string): Promise<void> {
  child.stderr?.resume();
  return new Promise((resolve, reject) => child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`${label} exited with ${code}`)))));
}

const environment = (extra: Record<string, string> = {}) => ({ PATH: process.env.PATH ?? '', ...extra });

/** pg_dump → Node → firedrill's encoding stages → Node → file: storeObject without the repository around it. */
async function throughNode(dump: Stage, encoding: StorageEncoding, output: string, fsync: boolean, census = false): Promise<number> {
  const started = performance.now();
  const child = spawn(dump.command, dump.args, { env: environment(dump.env), stdio: ['ignore', 'pipe', 'pipe'] });
  const stages = await encodingStages(encoding);
  // The chunk census adds two stages of its own: it runs apart from the timed runs.
  const [fromPgDump, toFile] = [new ChunkCounter(), new ChunkCounter()];
  const counted = census ? [fromPgDump] : [];
  await Promise.all([
    pipeline([child.stdout, ...counted, new ByteCounter(), ...stages, new HashingStream(), ...(census ? [toFile] : []), createWriteStream(output, { mode: 0o600, flush: fsync })]),
    exited(child, 'pg_dump'),
  ]);
  if (census) {
    noteChunks('backup: pg_dump stdout, read by Node', fromPgDump);
    noteChunks(`backup: ${encoding.encryption ? 'age' : 'zstd'} stdout, read by Node`, toFile);
  }
  return (performance.now() - started) / 1000;
}

/** firedrill's current storeObject for a pg_dump on this machine: its process chain, then SHA-256 → file with fsync. */
async function processChain(dump: Stage, encoding: StorageEncoding, output: string): Promise<number> {
  const started = performance.now();
  const pgDump = spawn(dump.command, dump.args, { env: environment(dump.env), stdio: ['ignore', 'pipe', 'pipe'] });
  const chain = await encodedByProcesses(pgDump.stdout, encoding);
  if (!chain) throw new Error('encodedByProcesses declined a pg_dump pipe');
  await Promise.all([pipeline([chain, new HashingStream(), createWriteStream(output, { mode: 0o600, flush: true })]), exited(pgDump, 'pg_dump')]);
  return (performance.now() - started) / 1000;
}

/** Node reads and hashes the stored object into age -d; age's output goes to zstd -d by an OS pipe; zstd writes the file. */
async function nodeThenOsPipes(input: string, identityFile: string, output: string): Promise<number> {
  const started = performance.now();
  const age = spawn('age', ['--decrypt', '--identity', identityFile], { env: environment(), stdio: ['pipe', 'pipe', 'pipe'] });
  const zstd = spawn('zstd', ['-d', '-q', '-f', '-o', output], { env: environment(), stdio: [age.stdout, 'ignore', 'pipe'] });
  age.stdout?.destroy();
  await Promise.all([pipeline([createReadStream(input, { highWaterMark: MIB }), new HashingStream(), age.stdin]), exited(age, 'age'), exited(zstd, 'zstd')]);
  return (performance.now() - started) / 1000;
}

export async function explain(options: {
  work: string;
  dump: Stage;
  key: { recipient: string; identity: string; file: string };
  cli: string;
  say: (message: string) => void;
  /** Times a step the way the bench does (quiet machine, repeats, the fastest); returns seconds. */
  measure: (step: () => Promise<number>) => Promise<number>;
}): Promise<Record<string, unknown>> {
  const { work, dump, key, measure } = options;
  const zst = join(work, 'explain.pgdump.zst');
  const age = join(work, 'explain.pgdump.zst.age');
  const scratch = join(work, 'explain.scratch');
  const out = join(work, 'explain.pgdump');
  const zstdStage: Stage = { command: 'zstd', args: ['-T0', '-3', '-q', '-c'] };
  const encrypted: StorageEncoding = { compression: 'zstd', compressionLevel: 3, encryption: { recipients: [key.recipient] } };

  const backup: Record<string, number> = {};
  const timeBackup = async (name: string, step: () => Promise<number>) => {
    backup[name] = await measure(step);
    options.say(`  explain backup: ${name}: ${backup[name]} s`);
  };
  await timeBackup('raw: pg_dump | zstd > file', () => runPipeline([dump, zstdStage], zst));
  await timeBackup('raw + age: pg_dump | zstd | age > file', () => runPipeline([dump, zstdStage, { command: 'age', args: ['--encrypt', '--recipient', key.recipient] }], scratch));
  await timeBackup('node stages: pg_dump -> node: count -> zstd -> age -> sha256 -> file, fsync (encodingStages)', () => throughNode(dump, encrypted, scratch, true));
  await timeBackup('process chain: pg_dump | zstd | age -> node: sha256 -> file, fsync (encodedByProcesses: storeObject now)', () => processChain(dump, encrypted, age));
  await rm(scratch, { force: true });

  const restore: Record<string, number> = {};
  const timeRestore = async (name: string, step: () => Promise<number>) => {
    restore[name] = await measure(async () => {
      const value = await step();
      await rm(out, { force: true });
      return value;
    });
    options.say(`  explain restore: ${name}: ${restore[name]} s`);
  };
  const dumpBytes = (await stat(zst)).size;
  await timeRestore('raw: zstd -d file -o out', async () => (await run({ command: 'zstd', args: ['-d', '-q', '-f', zst, '-o', out] })).seconds);
  await timeRestore('raw + age: age -d file | zstd -d > out', () =>
    runPipeline([{ command: 'age', args: ['--decrypt', '--identity', key.file, age] }, { command: 'zstd', args: ['-d', '-q', '-c'] }], out),
  );
  const decode = async (output: Writable) => {
    const started = performance.now();
    await decodeObject(
      [createReadStream(age, { highWaterMark: MIB }), new HashingStream()],
      { compression: 'zstd', encryption: { format: 'age', recipients: [key.recipient] } },
      Secret.fromValue(key.identity, 'bench age identity'),
      output,
      new AbortController().signal,
    );
    return (performance.now() - started) / 1000;
  };
  await timeRestore('decodeObject: node: read -> sha256 -> age -d -> node -> zstd -d -> node -> write (restore.fetch now)', () => decode(createWriteStream(out, { mode: 0o600 })));
  await timeRestore('proposed: node: read -> sha256 -> age -d | zstd -d -o out (OS pipe; no decompressed byte in Node)', () => nodeThenOsPipes(age, key.file, out));

  // Chunk census, not timed: how many pieces the bytes reach Node in.
  const written = new ChunkCounter();
  await decode(countingFile(written, out));
  noteChunks('restore: zstd -d stdout, read by Node', written);
  await rm(out, { force: true });
  await throughNode(dump, encrypted, scratch, false, true);
  await rm(scratch, { force: true });
  await rm(zst, { force: true });
  await rm(age, { force: true });

  const idle = await runMeasured(options.cli, ['--version'], { cwd: work, env: {}, intervalMs: 5 });
  const cliStartRssMb = round(idle.peakRssBytes / MIB);
  options.say(`  explain: firedrill --version peaks at ${cliStartRssMb} MiB RSS (the modules loaded at start, nothing done)`);
  return { compressedDumpMb: round(dumpBytes / MIB), backupSeconds: backup, restoreSeconds: restore, chunks: chunkStats, cliStartRssMb };
}
