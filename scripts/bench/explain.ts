/**
 * `--explain`: where firedrill's extra time and memory go, measured piece by
 * piece on the same source after the main measurements. Each variant is
 * timed like the main steps (quiet machine, repeated, the fastest counts).
 *
 * Backup variants, each a complete pg_dump of the source:
 *   raw              pg_dump | zstd > file                  (the baseline again)
 *   raw + age        pg_dump | zstd | age -r KEY > file     (OS pipes: what encryption alone costs)
 *   process chain    firedrill's storeObject as it is now for a pg_dump on this machine:
 *                    encodedByProcesses (pg_dump | zstd | age over OS pipes), then in Node SHA-256 → file
 *                    (fsync, 4 MiB write buffer as the local repository has)
 *   chain, discard   the same, Node only reading age's output: what passing the bytes through Node costs
 *   processes only   pg_dump | zstd | age > file (age writes the object), fsync, then SHA-256 of the
 *                    file read back (a possible design: Node handles no byte while pg_dump runs)
 *   node stages      (only with --explain-in-node) pg_dump's output through Node: count → zstd → age →
 *                    SHA-256 → file, firedrill's in-Node stages (encodingStages: the path of a pg_dump in
 *                    a container, and the only one before process chains)
 * Restore variants, from the objects those wrote:
 *   raw              zstd -d file -o out
 *   raw + age        age -d -i KEY file | zstd -d > out     (OS pipes)
 *   to file          firedrill's restore.fetch now (decodeObjectToFile): Node reads and hashes the stored
 *                    bytes into age -d, whose output reaches zstd -d by an OS pipe; zstd writes the file
 *   decodeObject     the in-Node decoder (restore.fetch before): read → SHA-256 → age -d → zstd -d →
 *                    write, every byte (the decompressed ones included) through Node
 * With --explain-in-node, a chunk census (untimed) counts the pieces bytes
 * reach Node in on the in-Node paths. And the firedrill CLI's resident
 * memory right after start (`--version`).
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { open, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform, Writable, type TransformCallback } from 'node:stream';
import { spawn, type ChildProcess } from 'node:child_process';
import { ByteCounter, decodeObject, decodeObjectToFile, encodedByProcesses, encodingStages, type StorageEncoding } from '../../src/pipeline/object-codec.ts';
import { HashingStream, hashFile } from '../../src/pipeline/hashing.ts';
import { Secret } from '../../src/secret.ts';
import { run, runMeasured, runPipeline, type Stage } from './processes.ts';

const MIB = 1024 * 1024;

/** The fastest of the repeats, and the least CPU (seconds of the bench's whole process tree) any of them used. */
export interface Timed {
  seconds: number;
  cpuSeconds: number | undefined;
}
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

/**
 * firedrill's current storeObject for a pg_dump on this machine: its process chain, then in Node SHA-256 → file
 * (fsync; the local repository's 4 MiB write buffer), or with `discard` only read by Node: what reading costs.
 */
async function processChain(dump: Stage, encoding: StorageEncoding, output: string, how: 'store' | 'discard'): Promise<number> {
  const started = performance.now();
  const pgDump = spawn(dump.command, dump.args, { env: environment(dump.env), stdio: ['ignore', 'pipe', 'pipe'] });
  const chain = await encodedByProcesses(pgDump.stdout, encoding);
  if (!chain) throw new Error('encodedByProcesses declined a pg_dump pipe');
  const sink =
    how === 'store'
      ? [new HashingStream(), createWriteStream(output, { mode: 0o600, flush: true, highWaterMark: 4 * MIB })]
      : [new Writable({ write: (_chunk, _encoding, callback) => callback() })];
  await Promise.all([pipeline([chain, ...sink]), exited(pgDump, 'pg_dump')]);
  return (performance.now() - started) / 1000;
}

/** pg_dump | zstd | age > file entirely by processes (age writes the object itself), then fsync and SHA-256 read back from the file. */
async function processesThenHash(dump: Stage, recipient: string, output: string): Promise<number> {
  const started = performance.now();
  const file = await open(output, 'w', 0o600);
  try {
    const pgDump = spawn(dump.command, dump.args, { env: environment(dump.env), stdio: ['ignore', 'pipe', 'pipe'] });
    const zstd = spawn('zstd', ['-q', '-c', '-T0', '-3'], { env: environment(), stdio: [pgDump.stdout, 'pipe', 'pipe'] });
    pgDump.stdout.destroy();
    const age = spawn('age', ['--encrypt', '--recipient', recipient], { env: environment(), stdio: [zstd.stdout, file.fd, 'pipe'] });
    zstd.stdout?.destroy();
    await Promise.all([exited(pgDump, 'pg_dump'), exited(zstd, 'zstd'), exited(age, 'age')]);
    await file.sync();
  } finally {
    await file.close();
  }
  await hashFile(output);
  return (performance.now() - started) / 1000;
}

export async function explain(options: {
  work: string;
  dump: Stage;
  key: { recipient: string; identity: string; file: string };
  cli: string;
  say: (message: string) => void;
  /** Also time the in-Node encoding stages (the path of a pg_dump in a container): one more dump per repeat. */
  inNodeStages?: boolean;
  /** Times a step the way the bench does (quiet machine, repeats, the fastest); returns seconds. */
  measure: (step: () => Promise<number>, options?: { warmSource?: boolean }) => Promise<Timed>;
}): Promise<Record<string, unknown>> {
  const { work, dump, key, measure } = options;
  const zst = join(work, 'explain.pgdump.zst');
  const age = join(work, 'explain.pgdump.zst.age');
  const scratch = join(work, 'explain.scratch');
  const out = join(work, 'explain.pgdump');
  const zstdStage: Stage = { command: 'zstd', args: ['-T0', '-3', '-q', '-c'] };
  const encrypted: StorageEncoding = { compression: 'zstd', compressionLevel: 3, encryption: { recipients: [key.recipient] } };

  const backup: Record<string, Timed> = {};
  const timeBackup = async (name: string, step: () => Promise<number>) => {
    const timed = await measure(step, { warmSource: true });
    backup[name] = timed;
    options.say(`  explain backup: ${name}: ${timed.seconds} s, ${timed.cpuSeconds ?? '?'} CPU s`);
  };
  await timeBackup('raw: pg_dump | zstd > file', () => runPipeline([dump, zstdStage], zst));
  await timeBackup('raw + age: pg_dump | zstd | age > file', () => runPipeline([dump, zstdStage, { command: 'age', args: ['--encrypt', '--recipient', key.recipient] }], scratch));
  await timeBackup('process chain: pg_dump | zstd | age -> node: sha256 -> file, fsync (encodedByProcesses: storeObject now)', () =>
    processChain(dump, encrypted, age, 'store'),
  );
  await timeBackup('process chain: pg_dump | zstd | age -> node: read and discard (no hash, no write)', () => processChain(dump, encrypted, scratch, 'discard'));
  await timeBackup('processes only: pg_dump | zstd | age > file, fsync, then node: sha256 of the file read back', () => processesThenHash(dump, key.recipient, scratch));
  if (options.inNodeStages) {
    await timeBackup('node stages: pg_dump -> node: count -> zstd -> age -> sha256 -> file, fsync (encodingStages)', () => throughNode(dump, encrypted, scratch, true));
  }
  await rm(scratch, { force: true });

  const restore: Record<string, Timed> = {};
  const timeRestore = async (name: string, step: () => Promise<number>) => {
    const timed = await measure(async () => {
      const value = await step();
      await rm(out, { force: true });
      return value;
    });
    restore[name] = timed;
    options.say(`  explain restore: ${name}: ${timed.seconds} s, ${timed.cpuSeconds ?? '?'} CPU s`);
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
  await timeRestore('decodeObjectToFile: node: read -> sha256 -> age -d | zstd -d > file (restore.fetch now)', async () => {
    const started = performance.now();
    await decodeObjectToFile(
      [createReadStream(age, { highWaterMark: MIB }), new HashingStream()],
      { compression: 'zstd', encryption: { format: 'age', recipients: [key.recipient] } },
      Secret.fromValue(key.identity, 'bench age identity'),
      out,
      new AbortController().signal,
    );
    return (performance.now() - started) / 1000;
  });
  await timeRestore('decodeObject: node: read -> sha256 -> age -d -> node -> zstd -d -> node -> write (restore.fetch before, in-Node)', () =>
    decode(createWriteStream(out, { mode: 0o600 })),
  );

  // Chunk census of the in-Node paths, not timed: how many pieces the bytes reach Node in.
  if (options.inNodeStages) {
    const written = new ChunkCounter();
    await decode(countingFile(written, out));
    noteChunks('in-Node decode: zstd -d stdout, read by Node', written);
    await rm(out, { force: true });
    await throughNode(dump, encrypted, scratch, false, true);
    await rm(scratch, { force: true });
  }
  await rm(zst, { force: true });
  await rm(age, { force: true });

  const idle = await runMeasured(options.cli, ['--version'], { cwd: work, env: {}, intervalMs: 5 });
  const cliStartRssMb = round(idle.peakRssBytes / MIB);
  options.say(`  explain: firedrill --version peaks at ${cliStartRssMb} MiB RSS (the modules loaded at start, nothing done)`);
  return { compressedDumpMb: round(dumpBytes / MIB), backupSeconds: backup, restoreSeconds: restore, chunks: chunkStats, cliStartRssMb };
}
