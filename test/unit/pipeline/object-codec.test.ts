import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createZstdDecompress } from 'node:zlib';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { childStage, isPipeBacked, processChain } from '../../../src/pipeline/child-stage.ts';
import { ByteCounter, DecodeError, checkEncoding, decodeObject, decodeObjectToFile, encodedByProcesses, encodingStages, type StorageEncoding } from '../../../src/pipeline/object-codec.ts';
import { compressionTool } from '../../../src/pipeline/compression.ts';
import { Secret } from '../../../src/secret.ts';
import { HashingStream } from '../../../src/pipeline/hashing.ts';
import { ChildProcessError, spawnChild } from '../../../src/pipeline/child-process.ts';

/**
 * The storage pipeline with the real zstd and age binaries: what goes in
 * comes out, a stage that fails fails the whole, and encryption that cannot
 * work refuses before anything is stored.
 */

function keypair(): { key: string; recipient: string } {
  const generated = spawnSync('age-keygen', [], { encoding: 'utf8' });
  const recipient = /public key: (age1[0-9a-z]+)/.exec(generated.stderr + generated.stdout)?.[1] as string;
  return { key: generated.stdout, recipient };
}

/** Half random, half repetitive: compressible, but not trivially. */
function sample(sizeBytes: number): Buffer {
  const random = randomBytes(sizeBytes / 2);
  return Buffer.concat([random, Buffer.from('firedrill '.repeat(sizeBytes / 20))]);
}

async function encode(data: Buffer, encoding: StorageEncoding): Promise<{ stored: Buffer; counted: number }> {
  const chunks: Buffer[] = [];
  const counter = new ByteCounter();
  await pipeline([Readable.from([data]), counter, ...(await encodingStages(encoding)), new Writable({ write: (chunk: Buffer, _e, done) => (chunks.push(chunk), done()) })]);
  return { stored: Buffer.concat(chunks), counted: counter.sizeBytes };
}

async function decode(stored: Buffer, encoding: StorageEncoding, identity?: Secret): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const record = { compression: encoding.compression, ...(encoding.encryption ? { encryption: { format: 'age' as const, recipients: encoding.encryption.recipients } } : {}) };
  await decodeObject([Readable.from([stored])], record, identity, new Writable({ write: (chunk: Buffer, _e, done) => (chunks.push(chunk), done()) }), new AbortController().signal);
  return Buffer.concat(chunks);
}

const originalPath = process.env.PATH;
afterEach(() => {
  process.env.PATH = originalPath;
});

describe('the storage pipeline', () => {
  it.each(['zstd', 'gzip', 'none'] as const)('gives back exactly what went in with %s and age, and stores no clear text', async (compression) => {
    const { key, recipient } = keypair();
    const data = sample(4 * 1024 * 1024);
    const encoding: StorageEncoding = { compression, encryption: { recipients: [recipient] } };
    const { stored, counted } = await encode(data, encoding);
    expect(counted).toBe(data.length);
    expect(stored.subarray(0, 21).toString('latin1')).toBe('age-encryption.org/v1');
    expect(stored.includes(Buffer.from('firedrill firedrill'))).toBe(false);
    const back = await decode(stored, encoding, Secret.fromValue(key, 'test key'));
    expect(createHash('sha256').update(back).digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
  });

  it('writes standard zstd frames that Node itself can read, so the binary and the fallback are interchangeable', async () => {
    const data = sample(1024 * 1024);
    const { stored } = await encode(data, { compression: 'zstd' });
    expect(stored.length).toBeLessThan(data.length);
    const chunks: Buffer[] = [];
    await pipeline(Readable.from([stored]), createZstdDecompress(), new Writable({ write: (chunk: Buffer, _e, done) => (chunks.push(chunk), done()) }));
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
  });

  it('fails the whole pipeline with the exit status when a stage dies mid-stream', async () => {
    const stage = childStage('sh', ['-c', 'head -c 1000; echo "disk on fire" >&2; exit 7']);
    const hashing = new HashingStream();
    const failure = await pipeline(Readable.from([randomBytes(4 * 1024 * 1024)]), stage, hashing, new Writable({ write: (_c, _e, done) => done() })).catch(
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(ChildProcessError);
    expect((failure as Error).message).toBe('sh exited with status 7: disk on fire');
  });

  it('does not end a stage whose process exits non-zero after writing all its output', async () => {
    const stage = childStage('sh', ['-c', 'cat; exit 3']);
    const failure = await pipeline(Readable.from([Buffer.from('complete-looking output')]), stage, new Writable({ write: (_c, _e, done) => done() })).catch(
      (error: unknown) => error,
    );
    expect((failure as ChildProcessError).exitCode).toBe(3);
  });

  it('chains processes by operating-system pipes, and a process failing in the middle fails the chain though the last one ends cleanly', async () => {
    const source = spawnChild('sh', ['-c', 'head -c 3000000 /dev/urandom'], { stdout: 'pipe' });
    expect(isPipeBacked(source.stdout)).toBe(true);
    const chain = processChain(source.stdout, [
      { command: 'sh', args: ['-c', 'head -c 1000; echo "ran out of disk" >&2; exit 5'] },
      { command: 'cat', args: [] },
    ]);
    const failure = await pipeline(chain, new Writable({ write: (_c, _e, done) => done() })).catch((error: unknown) => error);
    expect((failure as ChildProcessError).exitCode).toBe(5);
    expect((failure as Error).message).toContain('ran out of disk');
    await source.kill();
  });

  it('encodes a process\'s output without passing it through Node, readable by the standard tools', async () => {
    const { key, recipient } = keypair();
    const encoding: StorageEncoding = { compression: 'zstd', encryption: { recipients: [recipient] } };
    const source = spawnChild('sh', ['-c', 'seq 1 200000'], { stdout: 'pipe' });
    const encoded = await encodedByProcesses(source.stdout, encoding);
    expect(encoded).toBeDefined();
    const chunks: Buffer[] = [];
    await pipeline(encoded as Readable, new Writable({ write: (chunk: Buffer, _e, done) => (chunks.push(chunk), done()) }));
    await source.succeeded;
    const back = await decode(Buffer.concat(chunks), encoding, Secret.fromValue(key, 'test key'));
    expect(back.toString().split('\n').at(-2)).toBe('200000');
  });

  it('decodes into a file through chained processes, and names the failing stage in chain order', async () => {
    const { key, recipient } = keypair();
    const encoding: StorageEncoding = { compression: 'zstd', encryption: { recipients: [recipient] } };
    const data = sample(2 * 1024 * 1024);
    const { stored } = await encode(data, encoding);
    const record = { compression: 'zstd' as const, encryption: { format: 'age' as const, recipients: [recipient] } };
    const directory = await mkdtemp(join(tmpdir(), 'firedrill-unit-decode-'));
    try {
      await decodeObjectToFile([Readable.from([stored])], record, Secret.fromValue(key, 'test key'), join(directory, 'out'), new AbortController().signal);
      expect((await readFile(join(directory, 'out'))).equals(data)).toBe(true);

      const stranger = keypair();
      const failure = await decodeObjectToFile([Readable.from([stored])], record, Secret.fromValue(stranger.key, 'stranger'), join(directory, 'other'), new AbortController().signal).catch(
        (error: unknown) => error,
      );
      // zstd also fails (no input), but decryption failed first in the chain.
      expect((failure as DecodeError).stage).toBe('decrypt');
      expect(await readdir(tmpdir()).then((names) => names.filter((name) => name.startsWith('firedrill-work-age-')))).toEqual([]);
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });

  it('names decryption as the failing stage when the identity is not a recipient', async () => {
    const owner = keypair();
    const stranger = keypair();
    const encoding: StorageEncoding = { compression: 'zstd', encryption: { recipients: [owner.recipient] } };
    const { stored } = await encode(sample(64 * 1024), encoding);
    const failure = await decode(stored, encoding, Secret.fromValue(stranger.key, 'stranger key')).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(DecodeError);
    expect((failure as DecodeError).stage).toBe('decrypt');
    expect((failure as Error).message).toContain('no identity matched any of the recipients');
  });

  it('names decompression as the failing stage for damaged compressed bytes', async () => {
    const { stored } = await encode(sample(256 * 1024), { compression: 'zstd' });
    const damaged = Buffer.from(stored);
    damaged.fill(0x55, 100, 200);
    const failure = await decode(damaged, { compression: 'zstd' }).catch((error: unknown) => error);
    expect((failure as DecodeError).stage).toBe('decompress');
  });
});

describe('checkEncoding, before a backup starts', () => {
  it('refuses a recipient whose checksum is wrong, in age\'s own words', async () => {
    const { recipient } = keypair();
    const typo = `${recipient.slice(0, -1)}${recipient.endsWith('q') ? 'p' : 'q'}`;
    await expect(checkEncoding({ compression: 'zstd', encryption: { recipients: [typo] } })).rejects.toThrow(/encryption\.recipients cannot be used: .*(invalid checksum|malformed recipient)/);
  });

  it('refuses an identity that belongs to none of the recipients: those backups could not be restored here', async () => {
    const owner = keypair();
    const stranger = keypair();
    const check = checkEncoding({ compression: 'zstd', encryption: { recipients: [owner.recipient], identity: Secret.fromValue(stranger.key, 'env STRANGER_KEY') } });
    await expect(check).rejects.toThrow(`encryption.identity (from env STRANGER_KEY) belongs to ${stranger.recipient}, which is not among encryption.recipients`);
  });

  it('refuses when the age binary is missing, saying how to install it', async () => {
    const { recipient } = keypair();
    process.env.PATH = '/nonexistent';
    // The binaries are looked up once per process: a fresh module instance sees the empty PATH.
    vi.resetModules();
    const fresh = await import('../../../src/pipeline/object-codec.ts');
    await expect(fresh.checkEncoding({ compression: 'none', encryption: { recipients: [recipient] } })).rejects.toThrow('the age binary is not installed (Debian/Ubuntu: apt install age');
  });

  it('warns, and still works, when zstd falls back to Node\'s single-threaded implementation', async () => {
    process.env.PATH = '/nonexistent';
    vi.resetModules();
    const fresh = await import('../../../src/pipeline/compression.ts');
    const tool = await fresh.compressionTool('zstd');
    expect(tool?.description).toContain('one core');
    const chunks: Buffer[] = [];
    const data = sample(256 * 1024);
    await pipeline(Readable.from([data]), tool?.compress(3) as NodeJS.ReadWriteStream, (await compressionTool('zstd'))?.decompress() as NodeJS.ReadWriteStream, new Writable({ write: (chunk: Buffer, _e, done) => (chunks.push(chunk), done()) }));
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
  });
});
