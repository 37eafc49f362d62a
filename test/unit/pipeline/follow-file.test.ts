import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { processChainToFile } from '../../../src/pipeline/child-stage.ts';
import { followWrittenFile } from '../../../src/pipeline/follow-file.ts';
import { ChildProcessError } from '../../../src/pipeline/child-process.ts';

/**
 * A chain of processes writing an object file directly, hashed by Node while
 * it is written: the digest is the file's, a stage that fails fails the
 * whole even after its last byte, and an abort stops the processes.
 */

let directory: string;
beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'firedrill-follow-file-'));
});
afterEach(async () => {
  await rm(directory, { recursive: true, force: true });
});

/** A child's stdout as a pipe-backed stream, the way pg_dump's reaches the chain. */
function producer(script: string) {
  return spawn('sh', ['-c', script], { stdio: ['ignore', 'pipe', 'inherit'] }).stdout;
}

describe('processChainToFile with followWrittenFile', () => {
  it('hashes exactly what the last process wrote, while it writes (200 MiB through zstd)', async () => {
    const path = join(directory, 'object.zst');
    const handle = await open(path, 'wx+', 0o600);
    const chain = processChainToFile(producer('head -c 209715200 /dev/urandom'), [{ command: 'zstd', args: ['-q', '-c', '-1'] }], handle.fd);
    const result = await followWrittenFile(handle, chain.finished, new AbortController().signal);
    await handle.close();
    const written = await readFile(path);
    expect(result).toEqual({ sizeBytes: written.length, sha256: createHash('sha256').update(written).digest('hex') });
    expect(written.length).toBeGreaterThan(200 * 1024 * 1024);
  });

  it('fails when a stage exits non-zero, even after writing everything it wrote', async () => {
    const handle = await open(join(directory, 'object'), 'wx+', 0o600);
    const chain = processChainToFile(producer('head -c 100000 /dev/zero'), [{ command: 'sh', args: ['-c', 'cat; echo "disk quota exceeded" >&2; exit 3'] }], handle.fd);
    const failure = await followWrittenFile(handle, chain.finished, new AbortController().signal).catch((error: unknown) => error);
    await handle.close();
    expect(failure).toBeInstanceOf(ChildProcessError);
    expect((failure as Error).message).toContain('exited with status 3: disk quota exceeded');
  });

  it('stops on abort, and the processes are killed', async () => {
    const handle = await open(join(directory, 'object'), 'wx+', 0o600);
    const sleeper = spawn('sleep', ['30'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const chain = processChainToFile(sleeper.stdout, [{ command: 'cat', args: [] }], handle.fd);
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 100);
    await expect(followWrittenFile(handle, chain.finished, abort.signal)).rejects.toThrow();
    await chain.kill();
    await expect(chain.finished).rejects.toBeInstanceOf(ChildProcessError);
    await handle.close();
    // The producer is the engine's to stop (pg_dump is killed by its own releaser): here, the test's.
    sleeper.kill('SIGKILL');
  });
});
