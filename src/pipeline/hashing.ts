import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Transform, type TransformCallback } from 'node:stream';

/** A pass-through stage that counts bytes and computes SHA-256 of what flows through it. */
export class HashingStream extends Transform {
  readonly #hash: Hash = createHash('sha256');
  #sizeBytes = 0;
  #digest: string | undefined;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#hash.update(chunk);
    this.#sizeBytes += chunk.length;
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    this.#digest = this.#hash.digest('hex');
    callback();
  }

  /** True once every byte passed: the digest is final. */
  get finished(): boolean {
    return this.#digest !== undefined;
  }

  get sizeBytes(): number {
    return this.#sizeBytes;
  }

  /** The hex digest; only once the stream has ended. */
  get sha256(): string {
    if (this.#digest === undefined) throw new Error('the digest is read before the stream ended');
    return this.#digest;
  }
}

/** Size and SHA-256 of a file, streamed: memory stays flat whatever its size. */
export async function hashFile(path: string, signal?: AbortSignal): Promise<{ sizeBytes: number; sha256: string }> {
  const hash = createHash('sha256');
  let sizeBytes = 0;
  for await (const chunk of createReadStream(path, { signal, highWaterMark: 1024 * 1024 })) {
    hash.update(chunk as Buffer);
    sizeBytes += (chunk as Buffer).length;
  }
  return { sizeBytes, sha256: hash.digest('hex') };
}
