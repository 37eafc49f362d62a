import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { PutObjectCommandInput, S3Client, _Object } from '@aws-sdk/client-s3';
import { z } from 'zod';
import type { BackupEntry, BackupWriter, ForeignObject, RepairResult, Repository, StoredRunResult } from '../interfaces.ts';
import { AbortedError, IntegrityError, RepositoryError, errorMessage } from '../errors.ts';
import { secretSchema, timeoutSchema } from '../config/common.ts';
import { MANIFEST_FILE, serializeManifest, type Manifest } from './manifest.ts';
import { mapLimited } from '../concurrency.ts';
import { isId } from '../drill/ids.ts';
import { RUN_RESULTS_DIRECTORY, assertSafeName, isBackupId, deletedWhileReading, parseManifest, parseRunResult } from './repository-names.ts';
import { checkCompressionLevel, storageEncodingFields, type StorageEncoding } from '../pipeline/object-codec.ts';
import { ABANDONED_WITHOUT_MARKER_AFTER_MS, HEARTBEAT_MS, currentOwner, describeIncomplete, isAbandoned, type OwnerMarker } from '../pipeline/owner-marker.ts';
import { createS3Client, isNotFound, loadS3Sdk, s3Failure, type S3Sdk } from './s3-client.ts';

const MiB = 1024 * 1024;
/** How long a stopped run waits for lib-storage to stop an upload before it aborts the upload itself. */
const UPLOAD_ABORT_GRACE_MS = 5_000;
/** Who writes a backup, rewritten every minute: its LastModified (the server's clock) is the heartbeat. */
const IN_PROGRESS_OBJECT = '.in-progress';

export const s3RepositorySchema = z
  .strictObject({
    type: z.literal('s3').describe('Backups in an S3 bucket (AWS S3 or an S3-compatible store: MinIO, Ceph, R2, ...).'),
    bucket: z.string().min(3).max(63).describe('Bucket name. It must exist; firedrill never creates buckets.'),
    prefix: z
      .string()
      .default('')
      .refine((prefix) => prefix === '' || (prefix.endsWith('/') && !prefix.startsWith('/') && !prefix.split('/').includes('..')), {
        error: 'expected "" or a key prefix ending in "/" (e.g. firedrill/), without a leading "/" or ".."',
      })
      .describe('Key prefix; backups are <prefix><drill>/<backupId>/. (Default: "", the bucket\'s root)'),
    region: z.string().min(1).default('us-east-1').describe('The bucket\'s region. (Default: us-east-1)'),
    endpoint: z.url().optional().describe('Endpoint of an S3-compatible store, e.g. http://127.0.0.1:9000. (Default: AWS S3 of the region)'),
    forcePathStyle: z.boolean().default(false).describe('Address buckets as <endpoint>/<bucket> rather than <bucket>.<endpoint>; most S3-compatible stores need true. (Default: false)'),
    accessKeyId: secretSchema.optional().describe('Access key id, as a secret reference. (Default: the AWS default credential chain: environment, shared config, instance or pod role)'),
    secretAccessKey: secretSchema.optional().describe('Secret access key, as a secret reference; required with accessKeyId.'),
    sessionToken: secretSchema.optional().describe('Session token for temporary credentials, as a secret reference.'),
    serverSideEncryption: z
      .strictObject({
        type: z.enum(['AES256', 'aws:kms']).describe('AES256: S3-managed keys; aws:kms: a KMS key.'),
        kmsKeyId: z.string().min(1).optional().describe('The KMS key (id, alias or ARN) with aws:kms. (Default: the account\'s aws/s3 key)'),
      })
      .optional()
      .describe('Server-side encryption of every object firedrill writes, on top of (not instead of) client-side encryption.'),
    storageClass: z
      .enum(['STANDARD', 'STANDARD_IA', 'ONEZONE_IA', 'INTELLIGENT_TIERING', 'GLACIER_IR', 'REDUCED_REDUNDANCY'])
      .optional()
      .describe('Storage class of backup objects. Classes that need a restore request before reading (GLACIER, DEEP_ARCHIVE) cannot be drilled and are not offered. (Default: the bucket\'s, usually STANDARD)'),
    checksums: z
      .enum(['when_supported', 'when_required'])
      .default('when_supported')
      .describe(
        'when_supported: the SDK adds and validates CRC checksums on every request (AWS S3); when_required: only where the API demands them, ' +
          'for S3-compatible stores that reject the newer checksum headers. Integrity does not depend on it: firedrill verifies SHA-256 itself. (Default: when_supported)',
      ),
    partSize: z
      .int()
      .min(5)
      .max(512)
      .default(32)
      .describe('Multipart upload part size in MiB (5-512). An object has at most 10,000 parts, so this bounds a backup object: 32 MiB allows 320 GiB. (Default: 32)'),
    queueSize: z.int().min(1).max(16).default(2).describe('Parts uploaded in parallel. Memory used is about partSize × (queueSize + 1). (Default: 2)'),
    maxAttempts: z.int().min(1).max(20).default(5).describe('Attempts per request, with backoff, before an error counts. (Default: 5)'),
    idleTimeout: timeoutSchema('A request that sends or receives nothing for this long fails (and is retried): a store that stops answering must not hang a drill. (Default: 2m)').prefault('2m'),
    ...storageEncodingFields,
  })
  .superRefine((config, context) => {
    checkCompressionLevel(config, context);
    if ((config.accessKeyId === undefined) !== (config.secretAccessKey === undefined)) {
      context.addIssue({ code: 'custom', path: ['secretAccessKey'], message: 'accessKeyId and secretAccessKey go together: set both, or neither for the default credential chain' });
    }
    if (config.serverSideEncryption?.kmsKeyId && config.serverSideEncryption.type !== 'aws:kms') {
      context.addIssue({ code: 'custom', path: ['serverSideEncryption', 'kmsKeyId'], message: 'needs type: aws:kms' });
    }
  })
  .describe('An S3 bucket. Objects are streamed up as multipart uploads; the manifest is written last.');

export type S3RepositoryConfig = z.output<typeof s3RepositorySchema>;

/**
 * Backups as keys: `<prefix><drill>/<backupId>/<object>` and, last,
 * `.../manifest.json`; run results under `<prefix><drill>/reports/`. Objects
 * stream up through lib-storage's Upload (memory bounded by part size ×
 * queue); a failed upload aborts its multipart upload, and what a crash left
 * (parts of an upload, objects without a manifest) is removed by the next
 * backup or `firedrill repair`.
 */
export class S3Repository implements Repository {
  readonly type = 's3';
  readonly name: string;
  readonly encoding: StorageEncoding;
  readonly #config: S3RepositoryConfig;
  #client: Promise<S3Client> | undefined;

  constructor(name: string, config: S3RepositoryConfig) {
    this.name = name;
    this.#config = config;
    this.encoding = config;
  }

  describe(): string {
    return `s3 repository "${this.name}" at s3://${this.#config.bucket}/${this.#config.prefix}`;
  }

  /** The client and the SDK, loaded on first use: 35 MB of SDK that runs without S3 never load. */
  async #connection(): Promise<[S3Client, S3Sdk]> {
    this.#client ??= createS3Client({ ...this.#config, idleTimeoutMs: this.#config.idleTimeout });
    return Promise.all([this.#client, loadS3Sdk()]);
  }

  async preflight(drill: string): Promise<void> {
    const bucket = this.#config.bucket;
    await this.#send('HeadBucket', undefined, (s3, sdk) => s3.send(new sdk.HeadBucketCommand({ Bucket: bucket })));
    const key = `${this.#drillPrefix(drill)}.write-test-${randomBytes(4).toString('hex')}`;
    await this.#send('PutObject', key, (s3, sdk) => s3.send(new sdk.PutObjectCommand({ ...this.#putParameters(key), Body: 'firedrill write test\n' })));
    await this.#send('DeleteObject', key, (s3, sdk) => s3.send(new sdk.DeleteObjectCommand({ Bucket: bucket, Key: key })));
  }

  async startBackup(drill: string, backupId: string): Promise<BackupWriter> {
    assertSafeName(backupId, 'backup id');
    const prefix = `${this.#drillPrefix(drill)}${backupId}/`;
    const markerKey = `${prefix}${IN_PROGRESS_OBJECT}`;
    const marker = `${JSON.stringify(await currentOwner())}\n`;
    const [s3, sdk] = await this.#connection();
    const putMarker = () => s3.send(new sdk.PutObjectCommand({ ...this.#putParameters(markerKey), Body: marker, ContentType: 'application/json' }));
    await this.#send('PutObject', markerKey, () => putMarker());
    let beating: Promise<unknown> = Promise.resolve();
    const heartbeat = setInterval(() => (beating = putMarker().catch(() => undefined)), HEARTBEAT_MS).unref();
    // A beat still in flight would put the marker back after the commit or abort removed it: wait for it.
    return new S3BackupWriter(this, prefix, async () => {
      clearInterval(heartbeat);
      await beating;
    });
  }

  async removeAbandoned(drill: string): Promise<RepairResult> {
    const result: RepairResult = { removed: [], abortedUploads: [], problems: [], warnings: [] };
    const entries = await this.listBackups(drill);
    for (const entry of entries) {
      if (entry.status !== 'incomplete' || !entry.abandoned) continue;
      const prefix = `${this.#drillPrefix(drill)}${entry.backupId}/`;
      try {
        // Judged a moment ago: make sure it did not get its manifest since.
        if (await this.#exists(`${prefix}${MANIFEST_FILE}`)) continue;
        await this.deleteKeys(await this.#keysUnder(prefix));
        result.removed.push(entry.backupId);
      } catch (error) {
        result.problems.push(`cannot remove incomplete backup ${entry.backupId} of drill "${drill}": ${errorMessage(error)}`);
      }
    }
    // An upload in progress belongs to a backup that is incomplete and not abandoned; every other upload is debris.
    const live = new Set(entries.filter((entry) => entry.status === 'incomplete' && !entry.abandoned).map((entry) => entry.backupId));
    let uploads: { Key?: string | undefined; UploadId?: string | undefined; Initiated?: Date | undefined }[];
    try {
      uploads = await this.#listUploads(this.#drillPrefix(drill));
    } catch (error) {
      const advice = 'stale multipart uploads cannot be found here: give the bucket a lifecycle rule AbortIncompleteMultipartUpload (e.g. 7 days)';
      // A store without the operation is a limit to know about, not a failure of the repair.
      if (/NotImplemented|HTTP 501/.test(errorMessage(error))) result.warnings.push(`${this.describe()} does not list multipart uploads; ${advice}`);
      else result.problems.push(`${errorMessage(error)} So ${advice}`);
      return result;
    }
    for (const upload of uploads) {
      if (!upload.Key || !upload.UploadId) continue;
      const backupId = upload.Key.slice(this.#drillPrefix(drill).length).split('/')[0] ?? '';
      const young = upload.Initiated !== undefined && Date.now() - upload.Initiated.getTime() < ABANDONED_WITHOUT_MARKER_AFTER_MS;
      if (live.has(backupId) || (young && !entries.some((entry) => entry.backupId === backupId))) continue;
      try {
        await this.abortUpload(upload.Key, upload.UploadId);
        result.abortedUploads.push(upload.Key);
      } catch (error) {
        result.problems.push(errorMessage(error));
      }
    }
    return result;
  }

  async listBackups(drill: string): Promise<BackupEntry[]> {
    const drillPrefix = this.#drillPrefix(drill);
    const backupIds: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.#send('ListObjectsV2', drillPrefix, (s3, sdk) =>
        s3.send(new sdk.ListObjectsV2Command({ Bucket: this.#config.bucket, Prefix: drillPrefix, Delimiter: '/', ContinuationToken: token })),
      );
      for (const common of page.CommonPrefixes ?? []) {
        const backupId = (common.Prefix ?? '').slice(drillPrefix.length).replace(/\/$/, '');
        if (isBackupId(backupId)) backupIds.push(backupId);
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    const entries = await mapLimited(backupIds, 8, (backupId) => this.#entry(drill, backupId));
    return entries.filter((entry) => entry !== undefined).sort((a, b) => (a.backupId < b.backupId ? 1 : -1));
  }

  async #entry(drill: string, backupId: string): Promise<BackupEntry | undefined> {
    const prefix = `${this.#drillPrefix(drill)}${backupId}/`;
    const objects = await this.#objectsUnder(prefix);
    if (objects.length === 0) return undefined;
    const manifestObject = objects.find((object) => object.Key === `${prefix}${MANIFEST_FILE}`);
    if (manifestObject) {
      try {
        const manifest = await this.readManifest(drill, backupId);
        return { backupId, status: 'complete', manifest, modifiedAt: manifestObject.LastModified ?? new Date(0) };
      } catch (error) {
        if (error instanceof IntegrityError) return { backupId, status: 'invalid', problem: errorMessage(error), modifiedAt: manifestObject.LastModified ?? new Date(0) };
        throw error;
      }
    }
    const newest = Math.max(...objects.map((object) => object.LastModified?.getTime() ?? 0));
    const markerObject = objects.find((object) => object.Key === `${prefix}${IN_PROGRESS_OBJECT}`);
    let owner: Partial<OwnerMarker> | undefined;
    if (markerObject) owner = await this.#readText(markerObject.Key as string).then((text) => JSON.parse(text) as Partial<OwnerMarker>, () => undefined);
    const silentMs = Date.now() - (markerObject?.LastModified?.getTime() ?? newest);
    const abandoned = markerObject ? await isAbandoned(owner, silentMs) : silentMs > ABANDONED_WITHOUT_MARKER_AFTER_MS;
    return {
      backupId,
      status: 'incomplete',
      abandoned,
      problem: await describeIncomplete(owner, silentMs, abandoned),
      modifiedAt: new Date(newest),
    };
  }

  async readManifest(drill: string, backupId: string): Promise<Manifest> {
    assertSafeName(backupId, 'backup id');
    const key = `${this.#drillPrefix(drill)}${backupId}/${MANIFEST_FILE}`;
    let text: string;
    try {
      text = await this.#readText(key);
    } catch (error) {
      if (isNotFound(error)) {
        throw new RepositoryError(`backup ${backupId} of drill "${drill}" has no manifest in ${this.describe()}: it is incomplete and cannot be restored`, {
          cause: error,
        });
      }
      throw s3Failure('GetObject', this.#config.bucket, key, error, this.describe());
    }
    return parseManifest(text, `s3://${this.#config.bucket}/${key}`);
  }

  async readObject(drill: string, backupId: string, objectName: string): Promise<Readable> {
    assertSafeName(backupId, 'backup id');
    assertSafeName(objectName, 'object name');
    const key = `${this.#drillPrefix(drill)}${backupId}/${objectName}`;
    try {
      return await this.#getStream(key);
    } catch (error) {
      if (isNotFound(error)) {
        // Its manifest gone too: the whole backup was deleted after this run chose it (retention elsewhere), which says nothing bad of it.
        const manifestKey = `${this.#drillPrefix(drill)}${backupId}/${MANIFEST_FILE}`;
        if (!(await this.#exists(manifestKey).catch(() => true))) throw deletedWhileReading(drill, backupId, this.describe(), error);
        throw new IntegrityError(`object ${objectName} of backup ${backupId} is missing from ${this.describe()} (s3://${this.#config.bucket}/${key}); the backup is damaged`, {
          cause: error,
        });
      }
      throw s3Failure('GetObject', this.#config.bucket, key, error, this.describe());
    }
  }

  localObjectPath(): undefined {
    return undefined;
  }

  async deleteBackup(drill: string, backupId: string): Promise<void> {
    assertSafeName(backupId, 'backup id');
    const prefix = `${this.#drillPrefix(drill)}${backupId}/`;
    const manifestKey = `${prefix}${MANIFEST_FILE}`;
    await this.deleteKeys([manifestKey]);
    await this.deleteKeys((await this.#keysUnder(prefix)).filter((key) => key !== manifestKey));
  }

  async saveRunResult(drill: string, runId: string, json: string): Promise<void> {
    assertSafeName(runId, 'run id');
    await this.putText(`${this.#drillPrefix(drill)}${RUN_RESULTS_DIRECTORY}/${runId}.json`, json);
  }

  async listRunResults(drill: string): Promise<StoredRunResult[]> {
    const prefix = `${this.#drillPrefix(drill)}${RUN_RESULTS_DIRECTORY}/`;
    const keys = (await this.#objectsUnder(prefix)).map((object) => object.Key as string).filter((key) => key.endsWith('.json'));
    // A result that cannot be read fails the listing: retention must not judge from part of the history.
    const results = await mapLimited(keys, 8, async (key) => parseRunResult(await this.#send('GetObject', key, () => this.#readText(key))));
    return results.filter((result) => result !== undefined);
  }

  async listRunIds(drill: string): Promise<string[]> {
    const prefix = `${this.#drillPrefix(drill)}${RUN_RESULTS_DIRECTORY}/`;
    return (await this.#objectsUnder(prefix))
      .map((object) => (object.Key as string).slice(prefix.length))
      .filter((name) => name.endsWith('.json'))
      .map((name) => name.slice(0, -'.json'.length))
      .filter(isId);
  }

  async readRunResult(drill: string, runId: string): Promise<string> {
    assertSafeName(runId, 'run id');
    const key = `${this.#drillPrefix(drill)}${RUN_RESULTS_DIRECTORY}/${runId}.json`;
    return this.#send('GetObject', key, () => this.#readText(key));
  }

  async listForeignObjects(prefix: string, accept: (key: string) => boolean = () => true): Promise<ForeignObject[]> {
    const fullPrefix = `${this.#config.prefix}${prefix}`;
    const keep = (object: _Object) => object.Key !== undefined && !object.Key.endsWith('/') && accept(object.Key.slice(this.#config.prefix.length));
    return (await this.#objectsUnder(fullPrefix, keep)).map((object) => ({
      key: (object.Key as string).slice(this.#config.prefix.length),
      sizeBytes: object.Size ?? 0,
      modifiedAt: object.LastModified ?? new Date(0),
    }));
  }

  async readForeignObject(key: string): Promise<Readable> {
    const fullKey = `${this.#config.prefix}${key}`;
    try {
      return await this.#getStream(fullKey);
    } catch (error) {
      throw s3Failure('GetObject', this.#config.bucket, fullKey, error, this.describe());
    }
  }

  // ------------------------------------------------------------ used by the writer

  /** Streams one object up; a failure aborts the multipart upload (lib-storage does, and so do we if it could not). */
  async upload(key: string, body: Readable, signal: AbortSignal): Promise<void> {
    const [s3, sdk] = await this.#connection();
    const upload = new sdk.Upload({
      client: s3,
      params: { ...this.#putParameters(key), Body: body, ContentType: 'application/octet-stream' },
      partSize: this.#config.partSize * MiB,
      queueSize: this.#config.queueSize,
      leavePartsOnError: false,
    });
    // lib-storage's done() can stay pending after abort() (a part whose body never ends; aws-sdk-js-v3#6426). A stopped
    // run must not wait on it: a moment after the abort it gives up, and the upload is aborted by id below.
    let givingUp: NodeJS.Timeout | undefined;
    let giveUp: (reason: Error) => void = () => undefined;
    const gaveUp = new Promise<never>((_resolve, reject) => (giveUp = reject));
    gaveUp.catch(() => undefined);
    const onAbort = () => {
      void upload.abort().catch(() => undefined);
      givingUp = setTimeout(() => giveUp(new AbortedError('the upload did not stop when asked; abandoned')), UPLOAD_ABORT_GRACE_MS);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      await Promise.race([upload.done(), gaveUp]);
    } catch (error) {
      if (upload.uploadId) await this.abortUpload(key, upload.uploadId).catch(() => undefined);
      if (signal.aborted) throw error;
      throw s3Failure(upload.uploadId ? 'UploadPart' : 'PutObject', this.#config.bucket, key, error, this.describe());
    } finally {
      clearTimeout(givingUp);
      signal.removeEventListener('abort', onAbort);
    }
  }

  async putText(key: string, text: string): Promise<void> {
    await this.#send('PutObject', key, (s3, sdk) => s3.send(new sdk.PutObjectCommand({ ...this.#putParameters(key), Body: text, ContentType: 'application/json' })));
  }

  async abortUpload(key: string, uploadId: string): Promise<void> {
    try {
      const [s3, sdk] = await this.#connection();
      await s3.send(new sdk.AbortMultipartUploadCommand({ Bucket: this.#config.bucket, Key: key, UploadId: uploadId }));
    } catch (error) {
      if ((error as { name?: string }).name === 'NoSuchUpload') return;
      throw s3Failure('AbortMultipartUpload', this.#config.bucket, key, error, this.describe());
    }
  }

  async deleteKeys(keys: string[]): Promise<void> {
    // One request per key: DeleteObjects needs Content-MD5, which some S3-compatible stores handle differently.
    await mapLimited(keys, 8, (key) => this.#send('DeleteObject', key, (s3, sdk) => s3.send(new sdk.DeleteObjectCommand({ Bucket: this.#config.bucket, Key: key }))));
  }

  async keysUnder(prefix: string): Promise<string[]> {
    return this.#keysUnder(prefix);
  }

  async uploadsUnder(prefix: string): Promise<{ key: string; uploadId: string }[]> {
    return (await this.#listUploads(prefix)).flatMap((upload) => (upload.Key && upload.UploadId ? [{ key: upload.Key, uploadId: upload.UploadId }] : []));
  }

  // ------------------------------------------------------------ internals

  #drillPrefix(drill: string): string {
    assertSafeName(drill, 'drill name');
    return `${this.#config.prefix}${drill}/`;
  }

  #putParameters(key: string): PutObjectCommandInput {
    const sse = this.#config.serverSideEncryption;
    return {
      Bucket: this.#config.bucket,
      Key: key,
      ...(sse ? { ServerSideEncryption: sse.type, ...(sse.kmsKeyId ? { SSEKMSKeyId: sse.kmsKeyId } : {}) } : {}),
      ...(this.#config.storageClass ? { StorageClass: this.#config.storageClass } : {}),
    };
  }

  async #send<T>(action: string, key: string | undefined, request: (s3: S3Client, sdk: S3Sdk) => Promise<T>): Promise<T> {
    try {
      const [s3, sdk] = await this.#connection();
      return await request(s3, sdk);
    } catch (error) {
      throw s3Failure(action, this.#config.bucket, key, error, this.describe());
    }
  }

  async #getStream(key: string): Promise<Readable> {
    const [s3, sdk] = await this.#connection();
    const response = await s3.send(new sdk.GetObjectCommand({ Bucket: this.#config.bucket, Key: key }));
    const body = response.Body;
    if (!(body instanceof Readable)) throw new RepositoryError(`GetObject on s3://${this.#config.bucket}/${key} returned no stream`);
    return body;
  }

  async #readText(key: string): Promise<string> {
    const [s3, sdk] = await this.#connection();
    const response = await s3.send(new sdk.GetObjectCommand({ Bucket: this.#config.bucket, Key: key }));
    return (await response.Body?.transformToString('utf8')) ?? '';
  }

  async #exists(key: string): Promise<boolean> {
    return (await this.#objectsUnder(key)).some((object) => object.Key === key);
  }

  /** Every object under `prefix` that `keep` accepts: a bucket of millions of keys is paged through, not held. */
  async #objectsUnder(prefix: string, keep: (object: _Object) => boolean = () => true): Promise<_Object[]> {
    const objects: _Object[] = [];
    let token: string | undefined;
    do {
      const page = await this.#send('ListObjectsV2', prefix, (s3, sdk) =>
        s3.send(new sdk.ListObjectsV2Command({ Bucket: this.#config.bucket, Prefix: prefix, ContinuationToken: token })),
      );
      objects.push(...(page.Contents ?? []).filter(keep));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return objects;
  }

  async #keysUnder(prefix: string): Promise<string[]> {
    return (await this.#objectsUnder(prefix)).flatMap((object) => (object.Key ? [object.Key] : []));
  }

  async #listUploads(prefix: string): Promise<{ Key?: string | undefined; UploadId?: string | undefined; Initiated?: Date | undefined }[]> {
    const uploads = [];
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    do {
      const page = await this.#send('ListMultipartUploads', prefix, (s3, sdk) =>
        s3.send(new sdk.ListMultipartUploadsCommand({ Bucket: this.#config.bucket, Prefix: prefix, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker })),
      );
      uploads.push(...(page.Uploads ?? []));
      keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
      uploadIdMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined;
    } while (keyMarker);
    return uploads;
  }
}

class S3BackupWriter implements BackupWriter {
  readonly #repository: S3Repository;
  readonly #prefix: string;
  readonly #stopHeartbeat: () => Promise<void>;
  #committed = false;

  constructor(repository: S3Repository, prefix: string, stopHeartbeat: () => Promise<void>) {
    this.#repository = repository;
    this.#prefix = prefix;
    this.#stopHeartbeat = stopHeartbeat;
  }

  async writeObject(objectName: string, body: Readable, signal: AbortSignal): Promise<void> {
    assertSafeName(objectName, 'object name');
    if (objectName === MANIFEST_FILE || objectName === IN_PROGRESS_OBJECT) throw new RepositoryError(`"${objectName}" is reserved and cannot be an object name`);
    await this.#repository.upload(`${this.#prefix}${objectName}`, body, signal);
  }

  async commit(manifest: Manifest): Promise<void> {
    // One PutObject: S3 makes it visible whole or not at all, so a backup has a complete manifest or none.
    await this.#repository.putText(`${this.#prefix}${MANIFEST_FILE}`, serializeManifest(manifest));
    this.#committed = true;
    await this.#stopHeartbeat();
    await this.#repository.deleteKeys([`${this.#prefix}${IN_PROGRESS_OBJECT}`]).catch(() => undefined);
  }

  async abort(): Promise<void> {
    await this.#stopHeartbeat();
    if (this.#committed) return;
    // A commit whose answer was lost may have stored the manifest: it goes first, so no "complete" backup outlives its objects.
    await this.#repository.deleteKeys([`${this.#prefix}${MANIFEST_FILE}`]);
    // Uploads a stopped writer left open (an abort that could not reach the store is retried by repair), then every object.
    for (const upload of await this.#repository.uploadsUnder(this.#prefix).catch(() => [])) {
      await this.#repository.abortUpload(upload.key, upload.uploadId).catch(() => undefined);
    }
    await this.#repository.deleteKeys(await this.#repository.keysUnder(this.#prefix));
  }
}
