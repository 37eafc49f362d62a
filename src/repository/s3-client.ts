import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { RepositoryError, errorMessage } from '../errors.ts';
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
}

export function createS3Client(connection: S3Connection): S3Client {
  const checksumMode = connection.checksums === 'when_required' ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED';
  const config: S3ClientConfig = {
    region: connection.region,
    forcePathStyle: connection.forcePathStyle,
    requestChecksumCalculation: checksumMode,
    responseChecksumValidation: checksumMode,
    maxAttempts: connection.maxAttempts,
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

/** `PutObject on s3://backups/firedrill/orders/x/manifest.json failed: AccessDenied (HTTP 403): ... . Check ...` */
export function s3Failure(action: string, bucket: string, key: string | undefined, error: unknown, repository: string): RepositoryError {
  const code = s3ErrorCode(error);
  const status = (error as SdkError).$metadata?.httpStatusCode;
  const where = `s3://${bucket}${key === undefined ? '' : `/${key}`}`;
  const what = [code, status ? `HTTP ${status}` : undefined].filter(Boolean).join(', ');
  const detail = errorMessage(error);
  const message = `${action} on ${where} failed${what ? ` (${what})` : ''}: ${detail}. ${hintFor(code, status, action, repository)}`;
  return new RepositoryError(message.trim(), { cause: error });
}

function hintFor(code: string | undefined, status: number | undefined, action: string, repository: string): string {
  switch (code) {
    case 'AccessDenied':
    case 'Forbidden':
      return `The credentials of ${repository} may not ${action}: allow s3:${action.replace(/\s.*$/, '')} on this bucket and prefix in their policy.`;
    case 'NoSuchBucket':
      return `The bucket does not exist: create it, or fix the bucket name of ${repository}.`;
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
    case 'NotImplemented':
      return `If the store is S3-compatible (not AWS), it may reject the SDK's checksum headers: set checksums: when_required on ${repository}.`;
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'ETIMEDOUT':
    case 'ECONNRESET':
    case 'TimeoutError':
      return `The storage did not answer: check the endpoint and region of ${repository} and the network.`;
    default:
      return status !== undefined && status >= 500 ? 'The storage service failed; try again later.' : '';
  }
}
