import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { FiredrillError, RepositoryError, errorMessage } from '../errors.ts';
import type { Secret } from '../secret.ts';

/**
 * The S3 client of one repository, and S3 errors turned into messages that
 * say which action failed on which bucket and key, and what usually fixes it.
 */

export interface S3Connection {
  bucket: string;
  region: string;
  endpoint?: string | undefined;
  forcePathStyle: boolean;
  accessKeyId?: Secret | undefined;
  secretAccessKey?: Secret | undefined;
  sessionToken?: Secret | undefined;
  checksums: 'when_supported' | 'when_required';
  maxAttempts: number;
  /** A connection that sends or receives nothing for this long is given up (and retried): a store that stops answering must not hang a drill. */
  idleTimeoutMs: number;
}

const CONNECT_TIMEOUT_MS = 10_000;

/** The SDK's classes. Loaded on first use, so a run without S3 never pays for them (about 35 MB). */
export type S3Sdk = typeof import('@aws-sdk/client-s3') & {
  Upload: typeof import('@aws-sdk/lib-storage').Upload;
  NodeHttpHandler: typeof import('@smithy/node-http-handler').NodeHttpHandler;
};

let sdk: Promise<S3Sdk> | undefined;

export function loadS3Sdk(): Promise<S3Sdk> {
  sdk ??= Promise.all([import('@aws-sdk/client-s3'), import('@aws-sdk/lib-storage'), import('@smithy/node-http-handler')]).then(([client, storage, http]) => ({
    ...client,
    Upload: storage.Upload,
    NodeHttpHandler: http.NodeHttpHandler,
  }));
  return sdk;
}

export async function createS3Client(connection: S3Connection): Promise<S3Client> {
  const { S3Client, NodeHttpHandler } = await loadS3Sdk();
  const checksumMode = connection.checksums === 'when_required' ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED';
  const config: S3ClientConfig = {
    region: connection.region,
    forcePathStyle: connection.forcePathStyle,
    requestChecksumCalculation: checksumMode,
    responseChecksumValidation: checksumMode,
    maxAttempts: connection.maxAttempts,
    // The SDK's default waits forever; an idle limit (not a total one) still lets a large part take its time.
    requestHandler: new NodeHttpHandler({ connectionTimeout: CONNECT_TIMEOUT_MS, socketTimeout: connection.idleTimeoutMs }),
  };
  if (connection.endpoint) config.endpoint = connection.endpoint;
  // Without keys the SDK's default provider chain applies: environment, shared config, instance or pod role.
  if (connection.accessKeyId && connection.secretAccessKey) {
    config.credentials = {
      accessKeyId: connection.accessKeyId.reveal(),
      secretAccessKey: connection.secretAccessKey.reveal(),
      ...(connection.sessionToken ? { sessionToken: connection.sessionToken.reveal() } : {}),
    };
  }
  return new S3Client(config);
}

interface SdkError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

/** The S3 error code (`AccessDenied`, `NoSuchKey`), or a network error's code (`ECONNREFUSED`). */
export function s3ErrorCode(error: unknown): string | undefined {
  const sdk = error as SdkError;
  return sdk.code ?? (sdk.name && sdk.name !== 'Error' ? sdk.name : undefined);
}

export function isNotFound(error: unknown): boolean {
  const code = s3ErrorCode(error);
  return code === 'NoSuchKey' || code === 'NotFound' || (error as SdkError).$metadata?.httpStatusCode === 404;
}

/** The IAM permission each S3 action needs, for messages that say what to allow. */
const PERMISSION: Record<string, string> = {
  HeadBucket: 's3:ListBucket',
  ListObjectsV2: 's3:ListBucket',
  GetObject: 's3:GetObject',
  PutObject: 's3:PutObject',
  CreateMultipartUpload: 's3:PutObject',
  UploadPart: 's3:PutObject',
  CompleteMultipartUpload: 's3:PutObject',
  DeleteObject: 's3:DeleteObject',
  ListMultipartUploads: 's3:ListBucketMultipartUploads',
  AbortMultipartUpload: 's3:AbortMultipartUpload',
};

/** `PutObject on s3://backups/firedrill/orders/x/manifest.json failed (AccessDenied, HTTP 403): ... . Check ...` */
export function s3Failure(action: string, bucket: string, key: string | undefined, error: unknown, repository: string): FiredrillError {
  // A config problem found while preparing the request (a secret that cannot be resolved) is not the store's.
  if (error instanceof FiredrillError) return error;
  const status = (error as SdkError).$metadata?.httpStatusCode;
  // HEAD requests have no body, so the SDK cannot name the S3 error: the status says it.
  let code = s3ErrorCode(error);
  if (code === undefined || code === 'Unknown' || code === 'UnknownError' || code === 'NotFound') {
    if (status === 403) code = 'AccessDenied';
    else if (status === 404 && action === 'HeadBucket') code = 'NoSuchBucket';
  }
  const where = `s3://${bucket}${key === undefined ? '' : `/${key}`}`;
  const what = [code, status ? `HTTP ${status}` : undefined].filter(Boolean).join(', ');
  const detail = errorMessage(error).replace(/[.\s]+$/, '');
  const shown = detail && detail !== 'UnknownError' && detail !== code ? `: ${detail}` : '';
  const message = `${action} on ${where} failed${what ? ` (${what})` : ''}${shown}. ${hintFor(code, status, action, repository)}`;
  return new RepositoryError(message.trim(), { cause: error });
}

function hintFor(code: string | undefined, status: number | undefined, action: string, repository: string): string {
  switch (code) {
    case 'AccessDenied':
    case 'Forbidden':
      return `The credentials of ${repository} may not do this: allow ${PERMISSION[action] ?? `the ${action} action`} on the bucket and prefix in their policy (or check them: a wrong key is denied too).`;
    case 'NoSuchBucket':
      return `The bucket does not exist: create it, or fix the bucket (and region, endpoint) of ${repository}.`;
    case 'InvalidAccessKeyId':
    case 'SignatureDoesNotMatch':
    case 'CredentialsProviderError':
      return `Check the accessKeyId and secretAccessKey of ${repository} (or the default AWS credentials when none are set).`;
    case 'PermanentRedirect':
    case 'AuthorizationHeaderMalformed':
    case 'IllegalLocationConstraintException':
      return `The bucket is in another region: set region of ${repository} to the bucket's.`;
    case 'XAmzContentSHA256Mismatch':
    case 'BadDigest':
    case 'InvalidDigest':
      return `If the store is S3-compatible (not AWS), it may not understand the SDK's checksum headers: set checksums: when_required on ${repository}.`;
    case 'NotImplemented':
      return `The store does not implement ${action}.`;
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'ETIMEDOUT':
    case 'ECONNRESET':
    case 'TimeoutError':
    case 'RequestTimeout':
      return `The storage did not answer: check the endpoint and region of ${repository} and the network.`;
    default:
      return status !== undefined && status >= 500 ? `The storage service failed; try again later (${repository}).` : `Check the settings of ${repository}.`;
  }
}
