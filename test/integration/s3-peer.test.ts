import {
  AbortMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { createHash, randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startS3Peer, type S3Peer } from '../support/s3.ts';

/**
 * The S3 peer the repository tests run against is a real S3 protocol server
 * (s3rver) spoken to by the real AWS SDK, including the two multipart
 * operations the harness adds and its failure modes (down, access denied).
 */

const MiB = 1024 * 1024;

let peer: S3Peer;
let client: S3Client;

beforeEach(async () => {
  peer = await startS3Peer();
  // One attempt: a failure shows as itself, not after the SDK's retries.
  client = new S3Client({ ...peer.clientConfig, maxAttempts: 1 });
});
afterEach(async () => {
  client.destroy();
  await peer.close();
});

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A stream of `data` in 64 KiB chunks, as a file or a pipe would deliver it. */
function streamOf(data: Buffer): Readable {
  return Readable.from(
    (function* () {
      for (let offset = 0; offset < data.length; offset += 64 * 1024) yield data.subarray(offset, offset + 64 * 1024);
    })(),
  );
}

async function getBytes(s3: S3Client, Bucket: string, Key: string): Promise<Buffer> {
  const response = await s3.send(new GetObjectCommand({ Bucket, Key }));
  return Buffer.from(await response.Body!.transformToByteArray());
}

describe('startS3Peer', () => {
  it('listens on 127.0.0.1 with a fresh temp directory and an existing bucket', async () => {
    expect(peer.endpoint).toBe(`http://127.0.0.1:${peer.port}`);
    expect(peer.directory.startsWith(join(tmpdir(), 'firedrill-s3-'))).toBe(true);
    expect(peer.bucket).toBe('backups');
    const head = await client.send(new HeadBucketCommand({ Bucket: peer.bucket }));
    expect(head.$metadata.httpStatusCode).toBe(200);
  });

  it('creates the buckets it is asked for', async () => {
    const other = await startS3Peer({ bucket: 'archive', extraBuckets: ['spare'] });
    const otherClient = new S3Client(other.clientConfig);
    try {
      expect(other.bucket).toBe('archive');
      for (const Bucket of ['archive', 'spare']) {
        expect((await otherClient.send(new HeadBucketCommand({ Bucket }))).$metadata.httpStatusCode).toBe(200);
      }
      await expect(otherClient.send(new HeadBucketCommand({ Bucket: 'backups' }))).rejects.toMatchObject({ $metadata: { httpStatusCode: 404 } });
    } finally {
      otherClient.destroy();
      await other.close();
    }
  });

  it('removes its directory on close, and closing twice is fine', async () => {
    const other = await startS3Peer();
    await other.close();
    await expect(stat(other.directory)).rejects.toMatchObject({ code: 'ENOENT' });
    await other.close();
    await expect(other.start()).rejects.toThrow(/closed/);
  });

  it('returns an object put with PutObject from GetObject byte for byte', async () => {
    const body = randomBytes(4096);
    await client.send(new PutObjectCommand({ Bucket: peer.bucket, Key: 'drills/one/base.tar', Body: body }));
    expect((await getBytes(client, peer.bucket, 'drills/one/base.tar')).equals(body)).toBe(true);
    const listing = await client.send(new ListObjectsV2Command({ Bucket: peer.bucket, Prefix: 'drills/', Delimiter: '/' }));
    expect(listing.CommonPrefixes).toEqual([{ Prefix: 'drills/one/' }]);
  });

  it('stores a streamed PutObject exactly with the client config it hands out', async () => {
    const body = randomBytes(100_000);
    await client.send(new PutObjectCommand({ Bucket: peer.bucket, Key: 'streamed.bin', Body: streamOf(body), ContentLength: body.length }));
    expect(sha256(await getBytes(client, peer.bucket, 'streamed.bin'))).toBe(sha256(body));
  });

  it("stores a streamed PutObject with aws-chunked framing under the SDK's default checksums, which is why the client config opts out", async () => {
    const { requestChecksumCalculation: _optOut, ...defaults } = peer.clientConfig;
    const defaultClient = new S3Client({ ...defaults, maxAttempts: 1 });
    try {
      const body = randomBytes(100_000);
      await defaultClient.send(new PutObjectCommand({ Bucket: peer.bucket, Key: 'chunked.bin', Body: streamOf(body), ContentLength: body.length }));
      const response = await client.send(new GetObjectCommand({ Bucket: peer.bucket, Key: 'chunked.bin' }));
      const stored = Buffer.from(await response.Body!.transformToByteArray());
      expect(response.ContentEncoding).toBe('aws-chunked');
      expect(stored.length).toBeGreaterThan(body.length);
      expect(stored.subarray(0, 16).toString('latin1')).toMatch(/^[0-9a-f]+\r\n/);
    } finally {
      defaultClient.destroy();
    }
  });

  it('completes a lib-storage Upload of a 12 MiB stream in 5 MiB parts and reads it back identical', async () => {
    const body = randomBytes(12 * MiB + 12_345);
    const upload = new Upload({
      client,
      params: { Bucket: peer.bucket, Key: 'big/base.tar', Body: streamOf(body) },
      partSize: 5 * MiB,
      queueSize: 2,
    });
    await upload.done();
    expect(sha256(await getBytes(client, peer.bucket, 'big/base.tar'))).toBe(sha256(body));
    // Completing removes the upload.
    const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: peer.bucket }));
    expect(uploads.Uploads ?? []).toEqual([]);
  });

  it('lists an open multipart upload by prefix, aborts it, and answers NoSuchUpload for an unknown id', async () => {
    const before = Date.now();
    const open = async (Key: string) => {
      const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: peer.bucket, Key }));
      await client.send(new UploadPartCommand({ Bucket: peer.bucket, Key, UploadId, PartNumber: 1, Body: randomBytes(1024) }));
      return UploadId!;
    };
    const wanted = await open('drills/one/base.tar');
    const elsewhere = await open('other/base.tar');

    const listed = await client.send(new ListMultipartUploadsCommand({ Bucket: peer.bucket, Prefix: 'drills/' }));
    expect(listed.Uploads).toHaveLength(1);
    expect(listed.Uploads![0]).toMatchObject({ Key: 'drills/one/base.tar', UploadId: wanted });
    const initiated = listed.Uploads![0]!.Initiated!;
    expect(initiated).toBeInstanceOf(Date);
    expect(initiated.getTime()).toBeGreaterThanOrEqual(before - 1000);
    expect(initiated.getTime()).toBeLessThanOrEqual(Date.now() + 1000);

    const aborted = await client.send(new AbortMultipartUploadCommand({ Bucket: peer.bucket, Key: 'drills/one/base.tar', UploadId: wanted }));
    expect(aborted.$metadata.httpStatusCode).toBe(204);
    const afterAbort = await client.send(new ListMultipartUploadsCommand({ Bucket: peer.bucket, Prefix: 'drills/' }));
    expect(afterAbort.Uploads ?? []).toEqual([]);
    // The upload under the other prefix is untouched.
    const all = await client.send(new ListMultipartUploadsCommand({ Bucket: peer.bucket }));
    expect(all.Uploads?.map((upload) => upload.UploadId)).toEqual([elsewhere]);

    for (const UploadId of [wanted, 'ffffffffffffffffffffffffffffffff', '../../etc']) {
      await expect(client.send(new AbortMultipartUploadCommand({ Bucket: peer.bucket, Key: 'drills/one/base.tar', UploadId }))).rejects.toMatchObject({
        name: 'NoSuchUpload',
        $metadata: { httpStatusCode: 404 },
      });
    }
  });

  it('refuses connections while stopped and serves the same objects on the same port after start', async () => {
    await client.send(new PutObjectCommand({ Bucket: peer.bucket, Key: 'kept.txt', Body: 'still here' }));
    const port = peer.port;

    await peer.stop();
    expect(peer.running).toBe(false);
    // A pooled keep-alive socket may meet the reset first; a new connection is refused.
    const get = (s3: S3Client) => s3.send(new GetObjectCommand({ Bucket: peer.bucket, Key: 'kept.txt' }));
    await expect(get(client)).rejects.toMatchObject({ code: expect.stringMatching(/^(ECONNRESET|ECONNREFUSED)$/) });
    const fresh = new S3Client({ ...peer.clientConfig, maxAttempts: 1 });
    try {
      await expect(get(fresh)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    } finally {
      fresh.destroy();
    }

    await peer.start();
    expect(peer.running).toBe(true);
    expect(peer.port).toBe(port);
    expect((await getBytes(client, peer.bucket, 'kept.txt')).toString()).toBe('still here');
  });

  it('answers object writes with AccessDenied while writes are denied, and still serves reads', async () => {
    await client.send(new PutObjectCommand({ Bucket: peer.bucket, Key: 'readable.txt', Body: 'before' }));
    peer.denyWrites(true);

    await expect(client.send(new PutObjectCommand({ Bucket: peer.bucket, Key: 'refused.txt', Body: randomBytes(3 * MiB) }))).rejects.toMatchObject({
      name: 'AccessDenied',
      $metadata: { httpStatusCode: 403 },
    });
    await expect(client.send(new CreateMultipartUploadCommand({ Bucket: peer.bucket, Key: 'refused.tar' }))).rejects.toMatchObject({ name: 'AccessDenied' });
    expect((await getBytes(client, peer.bucket, 'readable.txt')).toString()).toBe('before');
    const listing = await client.send(new ListObjectsV2Command({ Bucket: peer.bucket }));
    expect(listing.Contents?.map((object) => object.Key)).toEqual(['readable.txt']);

    peer.denyWrites(false);
    await client.send(new PutObjectCommand({ Bucket: peer.bucket, Key: 'refused.txt', Body: 'now allowed' }));
    expect((await getBytes(client, peer.bucket, 'refused.txt')).toString()).toBe('now allowed');
  });
});
