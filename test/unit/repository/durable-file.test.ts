import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DurableFileWriter } from '../../../src/repository/durable-file.ts';

/**
 * The local repository's object writer: every byte lands in order, whatever
 * the chunking, across the background syncs it starts every 64 MiB; an
 * existing file is never overwritten; and no file descriptor outlives it.
 */

let directory: string;
beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'firedrill-durable-file-'));
});
afterEach(async () => {
  await rm(directory, { recursive: true, force: true });
});

const openDescriptors = async () => (await readdir('/proc/self/fd')).length;

/** Chunks of uneven sizes (1 byte to 1 MiB), so that gathered writes and partial offsets are exercised. */
const block = randomBytes(1024 * 1024 + 7);
function* unevenChunks(totalBytes: number): Generator<Buffer> {
  let written = 0;
  for (let index = 0; written < totalBytes; index++) {
    const size = Math.min(totalBytes - written, [1, 65_536, 1024 * 1024, 4093, 300_000][index % 5] as number);
    yield block.subarray(index % 7, (index % 7) + size);
    written += size;
  }
}

function sha256Of(chunks: Iterable<Buffer>): string {
  const hash = createHash('sha256');
  for (const chunk of chunks) hash.update(chunk);
  return hash.digest('hex');
}

describe('DurableFileWriter', () => {
  it('writes every byte in order across several background syncs (150 MiB in uneven chunks), mode 0600', async () => {
    const path = join(directory, 'object');
    const size = 150 * 1024 * 1024;
    const before = await openDescriptors();
    await pipeline(Readable.from(unevenChunks(size)), new DurableFileWriter(path));
    expect((await stat(path)).size).toBe(size);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(sha256Of([await readFile(path)])).toBe(sha256Of(unevenChunks(size)));
    expect(await openDescriptors()).toBe(before);
  });

  it('writes an empty stream as an empty file', async () => {
    const path = join(directory, 'empty');
    await pipeline(Readable.from([]), new DurableFileWriter(path));
    expect((await stat(path)).size).toBe(0);
  });

  it('never overwrites an existing file', async () => {
    const path = join(directory, 'taken');
    await writeFile(path, 'keep me');
    await expect(pipeline(Readable.from([Buffer.from('new')]), new DurableFileWriter(path))).rejects.toMatchObject({ code: 'EEXIST' });
    expect(await readFile(path, 'utf8')).toBe('keep me');
  });

  it('fails with the source and closes its file descriptor', async () => {
    const path = join(directory, 'broken');
    const before = await openDescriptors();
    async function* failing() {
      yield* unevenChunks(70 * 1024 * 1024);
      throw new Error('the dump died');
    }
    await expect(pipeline(Readable.from(failing()), new DurableFileWriter(path))).rejects.toThrow('the dump died');
    // The close runs after the sync in flight; give it its turn.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await openDescriptors()).toBe(before);
  });
});
