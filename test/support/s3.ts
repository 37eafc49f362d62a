import type { S3ClientConfig } from '@aws-sdk/client-s3';
import { once } from 'node:events';
import { readdir, readFile, rm, stat, mkdtemp, utimes } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canary } from './canaries.ts';

/**
 * A real S3 protocol peer for tests: s3rver (a Koa app storing objects on the
 * filesystem) on 127.0.0.1, a random free port and a fresh temp directory.
 * The peer can go down and come back on the same port with the same data
 * (stop/start), and can refuse object writes with a real AccessDenied.
 *
 * Checksums, @aws-sdk/client-s3 3.1175 against s3rver 3.7.1: `clientConfig`
 * sets requestChecksumCalculation: 'WHEN_REQUIRED'. With the default
 * ('WHEN_SUPPORTED') a PutObject or UploadPart whose Body is a stream is sent
 * aws-chunked (chunk framing plus an x-amz-checksum-crc32 trailer); s3rver
 * does not decode that, answers 200 and stores the framing as the object's
 * bytes (100000 bytes in, 100045 bytes and Content-Encoding: aws-chunked
 * out): silent corruption, no error anywhere. Buffer/string bodies are sent
 * plainly with a checksum header s3rver ignores, so they work either way, as
 * does a lib-storage Upload (it cuts a stream into Buffer parts), GetObject,
 * HeadObject, DeleteObject, DeleteObjects (its required checksum is sent in
 * both modes and ignored), ListObjectsV2 with Delimiter and HeadBucket.
 * responseChecksumValidation can stay at its default: s3rver never returns
 * x-amz-checksum-* headers, so there is nothing to validate in either mode.
 */

// s3rver is CommonJS without type declarations: what this file uses of it, typed here.
interface KoaContext {
  method: string;
  /** Raw (still percent-encoded) request path. */
  path: string;
  query: Record<string, string | string[] | undefined>;
  req: IncomingMessage;
  status: number;
  type: string;
  body: unknown;
}
type Middleware = (ctx: KoaContext, next: () => Promise<void>) => Promise<void>;
interface FilesystemStore {
  getResourcePath(bucket: string, key: string | undefined, resource: string): string;
  getBucket(bucket: string): Promise<unknown>;
  putBucket(bucket: string): Promise<unknown>;
  deleteObject(bucket: string, key: string): Promise<unknown>;
}
interface S3rverApp {
  /** Koa's middleware array: composed on every `callback()`, so entries put in front before listening run first. */
  middleware: Middleware[];
  store: FilesystemStore;
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
}
type S3rverConstructor = new (options: { directory: string; silent: boolean; address: string; port: number }) => S3rverApp;

const S3rver = createRequire(import.meta.url)('s3rver') as S3rverConstructor;

const HOST = '127.0.0.1';

export interface S3PeerOptions {
  /** The bucket created before the peer is returned (default `backups`). */
  bucket?: string;
  /** More buckets to create as well. */
  extraBuckets?: string[];
}

export interface S3Peer {
  /** `http://127.0.0.1:PORT` */
  readonly endpoint: string;
  readonly port: number;
  readonly bucket: string;
  /** Where s3rver keeps buckets and objects; survives stop(), removed by close(). */
  readonly directory: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** Ready for `new S3Client(peer.clientConfig)`. */
  readonly clientConfig: S3ClientConfig;
  /** Whether the peer currently accepts connections. */
  readonly running: boolean;
  /** Listens again on the same port with the same data (after stop()). No-op when running. */
  start(): Promise<void>;
  /** Closes the listener and drops open connections; data stays. No-op when stopped. */
  stop(): Promise<void>;
  /** stop() and remove the data directory. Idempotent. */
  close(): Promise<void>;
  /**
   * While true, every object PUT/POST answers a real 403 AccessDenied: PutObject, CopyObject,
   * CreateMultipartUpload, UploadPart, CompleteMultipartUpload, and the bucket-level POSTs
   * (form upload, DeleteObjects). Reads, CreateBucket, DeleteObject and AbortMultipartUpload still work.
   */
  denyWrites(deny: boolean): void;
  /**
   * While set, called with the key of every object GET (not listings) before the peer answers it:
   * a test can change the bucket between a client's listing and its download.
   */
  beforeObjectRead(hook: ((key: string) => Promise<void>) | undefined): void;
  /** Removes an object as DeleteObject would, without a request. */
  deleteObject(key: string): Promise<void>;
  /** Multipart uploads of the bucket that are neither completed nor aborted, with how many parts have arrived. */
  openUploads(): Promise<{ key: string; uploadId: string; parts: number }[]>;
}

export async function startS3Peer(options: S3PeerOptions = {}): Promise<S3Peer> {
  const bucket = options.bucket ?? 'backups';
  const directory = await mkdtemp(join(tmpdir(), 'firedrill-s3-'));
  // address/port are only used by s3rver's own run(), which is not used: listening happens below.
  const app = new S3rver({ directory, silent: true, address: HOST, port: 0 });
  let writesDenied = false;
  let readHook: ((key: string) => Promise<void>) | undefined;
  app.middleware.unshift(denyWritesMiddleware(() => writesDenied), multipartShims(app.store), async (ctx, next) => {
    const { bucket: requested, key } = parsePath(ctx.path);
    if (readHook && ctx.method === 'GET' && requested !== '' && key !== '') await readHook(key);
    return next();
  });
  for (const name of [bucket, ...(options.extraBuckets ?? [])]) await app.store.putBucket(name);

  let server: Server | undefined;
  let port = 0;
  let closed = false;

  const start = async (): Promise<void> => {
    if (closed) throw new Error('the S3 peer was closed');
    if (server) return;
    const candidate = createServer(app.callback());
    await new Promise<void>((resolve, reject) => {
      candidate.once('error', reject);
      candidate.listen(port, HOST, () => {
        candidate.off('error', reject);
        resolve();
      });
    });
    port = (candidate.address() as AddressInfo).port;
    server = candidate;
  };
  const stop = async (): Promise<void> => {
    if (!server) return;
    const closing = server;
    server = undefined;
    const done = new Promise<void>((resolve, reject) => closing.close((error) => (error ? reject(error) : resolve())));
    // Keep-alive sockets of SDK clients would otherwise keep "a stopped peer" answering.
    closing.closeAllConnections();
    await done;
  };

  try {
    await start();
  } catch (error) {
    await rm(directory, { recursive: true, force: true });
    throw error;
  }

  const endpoint = `http://${HOST}:${port}`;
  const accessKeyId = 'S3RVER';
  // s3rver does not check signatures: any secret key works, so a planted canary is used for real.
  const secretAccessKey = canary('the S3 secret access key');
  return {
    endpoint,
    port,
    bucket,
    directory,
    accessKeyId,
    secretAccessKey,
    clientConfig: {
      region: 'us-east-1',
      endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId, secretAccessKey },
      // See the top of this file: streamed bodies are stored corrupted under the default.
      requestChecksumCalculation: 'WHEN_REQUIRED',
    },
    get running() {
      return server !== undefined;
    },
    start,
    stop,
    async close() {
      if (closed) return;
      closed = true;
      await stop();
      // s3rver's (silent) winston logger stays open: once closed, a response still finishing logs a warning to stderr.
      await rm(directory, { recursive: true, force: true });
    },
    denyWrites(deny: boolean) {
      writesDenied = deny;
    },
    beforeObjectRead(hook) {
      readHook = hook;
    },
    async deleteObject(key: string) {
      await app.store.deleteObject(bucket, key);
    },
    async openUploads() {
      const directory = app.store.getResourcePath(bucket, undefined, 'uploads');
      return Promise.all(
        (await listUploads(directory)).map(async (upload) => ({
          key: upload.key,
          uploadId: upload.uploadId,
          // A part is complete once its .md5 is written.
          parts: (await readdir(join(directory, upload.uploadId)).catch(() => [])).filter((name) => /^\d+\.md5$/.test(name)).length,
        })),
      );
    },
  };
}

/** Path-style `/bucket/key...`: the bucket and the decoded key ('' for bucket-level requests). */
function parsePath(path: string): { bucket: string; key: string } {
  const [, bucket = '', ...rest] = path.split('/');
  return { bucket: decodeURIComponent(bucket), key: rest.map(decodeURIComponent).join('/') };
}

function xmlEscape(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function xmlError(ctx: KoaContext, status: number, code: string, message: string, detail: Record<string, string> = {}): void {
  const extra = Object.entries(detail).map(([name, value]) => `<${name}>${xmlEscape(value)}</${name}>`).join('');
  ctx.status = status;
  ctx.type = 'application/xml';
  ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${xmlEscape(message)}</Message>${extra}</Error>`;
}

function denyWritesMiddleware(denied: () => boolean): Middleware {
  return async (ctx, next) => {
    const { bucket, key } = parsePath(ctx.path);
    // Object writes: PUT/POST on /bucket/key (PutObject, CopyObject, multipart) and POST /bucket (form upload, DeleteObjects).
    const objectWrite = bucket !== '' && (ctx.method === 'POST' || (ctx.method === 'PUT' && key !== ''));
    if (!denied() || !objectWrite) return next();
    // Read the body first: a response while the client is still sending can reach it as EPIPE instead of a 403.
    ctx.req.resume();
    if (!ctx.req.readableEnded) await once(ctx.req, 'end');
    xmlError(ctx, 403, 'AccessDenied', 'Access Denied');
  };
}

/**
 * s3rver 3.7.1 lacks ListMultipartUploads (GET /bucket?uploads: NotImplemented)
 * and AbortMultipartUpload (DELETE /bucket/key?uploadId=: MethodNotAllowed);
 * firedrill lists and aborts the uploads a failed backup leaves. Both work over
 * s3rver's own store: CreateMultipartUpload makes `<bucket>/._S3rver_uploads/<uploadId>/`
 * with files `key`, `metadata` and one file per part (plus `<n>.md5`);
 * CompleteMultipartUpload removes that directory. ListMultipartUploads
 * honours `prefix` only (no delimiter, markers or max-uploads: never truncated).
 */
function multipartShims(store: FilesystemStore): Middleware {
  const uploadsDir = (bucket: string) => store.getResourcePath(bucket, undefined, 'uploads');
  return async (ctx, next) => {
    const { bucket, key } = parsePath(ctx.path);
    if (ctx.method === 'GET' && bucket !== '' && key === '' && 'uploads' in ctx.query) {
      if (!(await store.getBucket(bucket))) return xmlError(ctx, 404, 'NoSuchBucket', 'The specified bucket does not exist', { BucketName: bucket });
      const prefix = typeof ctx.query.prefix === 'string' ? ctx.query.prefix : '';
      const uploads = (await listUploads(uploadsDir(bucket))).filter((upload) => upload.key.startsWith(prefix));
      uploads.sort((a, b) => (a.key === b.key ? a.initiated.getTime() - b.initiated.getTime() : a.key < b.key ? -1 : 1));
      ctx.type = 'application/xml';
      ctx.body = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">',
        `<Bucket>${xmlEscape(bucket)}</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker>`,
        `<Prefix>${xmlEscape(prefix)}</Prefix><MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated>`,
        ...uploads.map(
          (upload) =>
            `<Upload><Key>${xmlEscape(upload.key)}</Key><UploadId>${upload.uploadId}</UploadId>` +
            `<StorageClass>STANDARD</StorageClass><Initiated>${upload.initiated.toISOString()}</Initiated></Upload>`,
        ),
        '</ListMultipartUploadsResult>',
      ].join('');
      return;
    }
    const uploadId = ctx.query.uploadId;
    if (ctx.method === 'DELETE' && bucket !== '' && key !== '' && typeof uploadId === 'string') {
      // The id is a path component: anything but s3rver's hex ids cannot name an upload.
      const directory = /^[0-9a-f]+$/.test(uploadId) ? join(uploadsDir(bucket), uploadId) : undefined;
      const storedKey = directory ? await readFile(join(directory, 'key'), 'utf8').catch(() => undefined) : undefined;
      if (!directory || storedKey !== key) {
        return xmlError(ctx, 404, 'NoSuchUpload', 'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.', { UploadId: uploadId });
      }
      await rm(directory, { recursive: true, force: true });
      ctx.status = 204;
      return;
    }
    return next();
  };
}

async function listUploads(directory: string): Promise<{ key: string; uploadId: string; initiated: Date }[]> {
  const ids = await readdir(directory).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [];
    throw error;
  });
  const uploads = await Promise.all(
    ids.map(async (uploadId) => {
      const keyFile = join(directory, uploadId, 'key');
      try {
        // `key` is written once when the upload is created; the directory's own mtime moves with every part.
        const [key, stats] = await Promise.all([readFile(keyFile, 'utf8'), stat(keyFile)]);
        return { key, uploadId, initiated: stats.mtime };
      } catch {
        // UploadPart with an unknown id makes a directory without `key`: not an upload.
        return undefined;
      }
    }),
  );
  return uploads.filter((upload) => upload !== undefined);
}

/** Sets every file under `directory` (but those of `except`) back by `ageMs`, as if the objects were written that long ago. */
export async function ageObjects(directory: string, ageMs: number, except: string): Promise<void> {
  const when = new Date(Date.now() - ageMs);
  for (const entry of await readdir(directory, { recursive: true })) {
    if (entry.includes(except)) continue;
    const path = join(directory, entry);
    if ((await stat(path)).isFile()) await utimes(path, when, when);
  }
}

/**
 * An S3 repository on a test peer, as YAML lines for `repositories:` (two
 * spaces in): endpoint and keys from S3_ENDPOINT, S3_ACCESS_KEY_ID and
 * S3_SECRET_ACCESS_KEY, zstd, and age encryption to `recipient` with the
 * identity in age-key.txt.
 */
export function s3RepositoryYaml(options: { name: string; bucket: string; prefix: string; recipient: string }): string[] {
  return [
    `  ${options.name}:`,
    '    type: s3',
    `    bucket: ${options.bucket}`,
    `    prefix: ${options.prefix}`,
    '    endpoint: ${S3_ENDPOINT}',
    '    forcePathStyle: true',
    '    accessKeyId: { env: S3_ACCESS_KEY_ID }',
    '    secretAccessKey: { env: S3_SECRET_ACCESS_KEY }',
    // s3rver stores aws-chunked stream bodies with their framing (see the top of this file), as other S3-compatible stores do.
    '    checksums: when_required',
    '    partSize: 5',
    '    maxAttempts: 2',
    '    compression: zstd',
    `    encryption: { recipients: [${options.recipient}], identity: { file: age-key.txt } }`,
  ];
}
