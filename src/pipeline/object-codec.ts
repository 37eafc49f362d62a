import { Transform, type Duplex, type Readable, type TransformCallback, type Writable } from 'node:stream';
import { createWriteStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { z } from 'zod';
import { secretSchema } from '../config/common.ts';
import type { Secret } from '../secret.ts';
import { COMPRESSIONS, LEVEL_RANGE, compressionTool, type Compression } from './compression.ts';
import {
  AGE_RECIPIENT_PATTERN,
  checkRecipients,
  decryptCommand,
  decryptStage,
  encryptCommand,
  encryptStage,
  findAge,
  hasValidChecksum,
  identityFile,
  recipientsOfIdentity,
  withoutAgeBoilerplate,
} from './encryption.ts';
import { isPipeBacked, processChain, processChainToFile, type ChainToFile } from './child-stage.ts';
import { errorMessage } from '../errors.ts';

/**
 * How a repository stores bytes: compressed, then encrypted, then hashed
 * (the manifest's SHA-256 is of the stored bytes, so verifying a backup
 * needs no key). Compression and encryption belong to a repository, so every
 * backup in it is treated alike; each object records what was applied to it,
 * so a backup stays readable after the repository's settings change.
 */

export const encryptionSchema = z
  .strictObject({
    recipients: z
      .array(
        z
          .string()
          .regex(AGE_RECIPIENT_PATTERN, { error: 'expected an age X25519 recipient: "age1" and 58 letters and digits (age-keygen prints it as "Public key")' })
          .refine(hasValidChecksum, { error: 'is not a valid age recipient: its checksum does not match (a typo, or a character lost in copying?)' }),
      )
      .min(1, { error: 'at least one recipient is needed: encryption without one would have to store the backup in clear text, which firedrill refuses' })
      .describe('age public keys (age1...) every backup is encrypted to. Any one of the matching identities can decrypt.'),
    identity: secretSchema
      .optional()
      .describe(
        'The age identity (AGE-SECRET-KEY-1..., as written by age-keygen) that decrypts backups for restores, as a secret reference. ' +
          'Only needed where backups are restored; a machine that only takes backups needs none.',
      ),
  })
  .describe('Client-side encryption in the age format (https://age-encryption.org), by the age binary. A backup can be decrypted by hand with `age -d -i key.txt`.');

/** The keys every repository type accepts, spread into its schema. */
export const storageEncodingFields = {
  compression: z
    .enum(COMPRESSIONS)
    .default('zstd')
    .describe(
      'zstd: the zstd binary on all cores (Node\'s built-in zstd when the binary is missing); gzip; none. ' +
        'pg_dump writes its archive uncompressed when firedrill compresses it, and compresses it itself (gzip) with none. (Default: zstd)',
    ),
  // The range depends on the compression: checkCompressionLevel judges it, once.
  compressionLevel: z.int().optional().describe('zstd 1-19, gzip 1-9. (Default: zstd 3, gzip 6)'),
  encryption: encryptionSchema.optional(),
};

export interface StorageEncoding {
  compression: Compression;
  compressionLevel?: number | undefined;
  encryption?: { recipients: string[]; identity?: Secret | undefined } | undefined;
}

/** What the manifest records of one stored object's encoding. */
export interface ObjectEncodingRecord {
  compression?: Compression | undefined;
  encryption?: { format: 'age'; recipients: string[] } | undefined;
}

/** Config refinement shared by the repository schemas: a level must suit its compression. */
export function checkCompressionLevel(config: { compression?: unknown; compressionLevel?: unknown }, context: z.RefinementCtx): void {
  const { compression, compressionLevel } = config;
  if (typeof compressionLevel !== 'number') return;
  if (compression === 'none') {
    context.addIssue({ code: 'custom', path: ['compressionLevel'], message: 'has no effect with compression: none; remove it' });
    return;
  }
  const [lowest, highest] = LEVEL_RANGE[compression === 'gzip' ? 'gzip' : 'zstd'];
  if (compressionLevel < lowest || compressionLevel > highest) {
    context.addIssue({ code: 'custom', path: ['compressionLevel'], message: `must be ${lowest}-${highest} for ${compression === 'gzip' ? 'gzip' : 'zstd'}` });
  }
}

export function encodingRecord(encoding: StorageEncoding): ObjectEncodingRecord {
  return {
    compression: encoding.compression,
    ...(encoding.encryption ? { encryption: { format: 'age' as const, recipients: [...encoding.encryption.recipients] } } : {}),
  };
}

/** The file name suffix of a stored object: `.zst`, `.gz`, then `.age`. */
export function encodingSuffix(encoding: StorageEncoding): string {
  const compression = { zstd: '.zst', gzip: '.gz', none: '' }[encoding.compression];
  return `${compression}${encoding.encryption ? '.age' : ''}`;
}

/**
 * Before a backup starts: the tools exist and the keys work. Encryption that
 * is configured but unusable stops the backup here; there is no fallback to
 * clear text. Returns warnings worth logging (a slow compressor).
 */
export async function checkEncoding(encoding: StorageEncoding): Promise<string[]> {
  const warnings: string[] = [];
  const tool = await compressionTool(encoding.compression);
  if (tool?.description.includes('one core')) warnings.push(`compression uses ${tool.description}`);
  if (!encoding.encryption) return warnings;
  const age = await findAge();
  try {
    await checkRecipients(age, encoding.encryption.recipients);
  } catch (error) {
    throw new Error(`encryption.recipients cannot be used: ${errorMessage(error)}`, { cause: error });
  }
  const identity = encoding.encryption.identity;
  if (identity) {
    let own: string[];
    try {
      own = await recipientsOfIdentity(identity);
    } catch (error) {
      throw new Error(`encryption.identity (from ${identity.origin}) is not a usable age identity: ${errorMessage(error)}`, { cause: error });
    }
    if (!own.some((recipient) => encoding.encryption?.recipients.includes(recipient))) {
      throw new Error(
        `encryption.identity (from ${identity.origin}) belongs to ${own.join(', ') || 'no X25519 key'}, which is not among encryption.recipients: ` +
          'backups would be taken that this configuration cannot restore. Add its public key to recipients, or fix the identity',
      );
    }
  }
  return warnings;
}

/** Counts the bytes that pass: the size before compression, for the manifest and the compression ratio. */
export class ByteCounter extends Transform {
  sizeBytes = 0;
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.sizeBytes += chunk.length;
    callback(null, chunk);
  }
}

/**
 * The engine's output already encoded by processes reading each other's
 * output directly (`pg_dump | zstd | age`), when its output is a process's
 * pipe and every stage is a command; undefined otherwise (then the stages
 * below run in Node). The bytes before compression are then not counted.
 */
export async function encodedByProcesses(body: Readable, encoding: StorageEncoding): Promise<Readable | undefined> {
  if (!isPipeBacked(body)) return undefined;
  const commands = await encodingCommands(encoding);
  return commands && commands.length > 0 ? processChain(body, commands) : undefined;
}

/**
 * The same chain, with the last process writing into `file` itself (a local
 * repository's object file): undefined where it cannot run so (the body is
 * not a pipe, a stage has no binary, nothing to encode).
 */
export async function encodedIntoFile(body: Readable, encoding: StorageEncoding, file: () => Promise<FileHandle>): Promise<{ chain: ChainToFile; handle: FileHandle } | undefined> {
  if (!isPipeBacked(body)) return undefined;
  const commands = await encodingCommands(encoding);
  if (!commands || commands.length === 0) return undefined;
  const handle = await file();
  return { chain: processChainToFile(body, commands, handle.fd), handle };
}

/** Commands for compression then encryption; undefined when a stage has no binary to run. */
async function encodingCommands(encoding: StorageEncoding): Promise<{ command: string; args: string[] }[] | undefined> {
  const commands: { command: string; args: string[] }[] = [];
  const tool = await compressionTool(encoding.compression);
  if (tool) {
    if (!tool.compressCommand) return undefined;
    commands.push(tool.compressCommand(encoding.compressionLevel));
  }
  if (encoding.encryption) commands.push(encryptCommand(await findAge(), encoding.encryption.recipients));
  return commands;
}

/** The stages that turn an engine's output into stored bytes: compress, then encrypt. */
export async function encodingStages(encoding: StorageEncoding): Promise<Duplex[]> {
  const stages: Duplex[] = [];
  const tool = await compressionTool(encoding.compression);
  if (tool) stages.push(tool.compress(encoding.compressionLevel));
  if (encoding.encryption) stages.push(encryptStage(await findAge(), encoding.encryption.recipients));
  return stages;
}

/** Which stage of a decode failed, so the caller can tell a wrong key from damaged bytes. */
export class DecodeError extends Error {
  readonly stage: 'decrypt' | 'decompress';
  constructor(stage: 'decrypt' | 'decompress', cause: unknown) {
    super(`${stage === 'decrypt' ? 'age could not decrypt it' : 'it could not be decompressed'}: ${withoutAgeBoilerplate(errorMessage(cause))}`, { cause });
    this.name = 'DecodeError';
    this.stage = stage;
  }
}

/**
 * Stored bytes → what the engine wrote: `input` (the stored object and any
 * stage that watches it, such as a hash), decrypt, decompress, into `output`. `identity` is needed only for encrypted objects. A failure of a
 * decoding stage is a DecodeError naming it; a failure of `input` or
 * `output` passes through.
 */
export async function decodeObject(
  input: Readable[],
  record: ObjectEncodingRecord,
  identity: Secret | undefined,
  output: Writable,
  signal: AbortSignal,
): Promise<void> {
  const stages: { stage: Duplex; name: 'decrypt' | 'decompress' }[] = [];
  const releases: (() => Promise<void>)[] = [];
  let piped = false;
  try {
    if (record.encryption) {
      if (!identity) throw new MissingIdentityError(record.encryption.recipients);
      const decrypt = await decryptStage(await findAge(), identity);
      releases.push(decrypt.release);
      stages.push({ stage: decrypt.stage, name: 'decrypt' });
    }
    const tool = await compressionTool(record.compression ?? 'none');
    if (tool) stages.push({ stage: tool.decompress(), name: 'decompress' });
    // pipeline() destroys every stage with the first error, so the stream that failed first is the one to blame.
    let first: { error: unknown; stage?: 'decrypt' | 'decompress' } | undefined;
    for (const stream of input) stream.once('error', (error) => (first ??= { error }));
    output.once('error', (error) => (first ??= { error }));
    for (const { stage, name } of stages) stage.once('error', (error) => (first ??= { error, stage: name }));
    try {
      piped = true;
      await pipeline([...input, ...stages.map(({ stage }) => stage), output], { signal });
    } catch (error) {
      if (signal.aborted || !first) throw error;
      throw first.stage ? new DecodeError(first.stage, first.error) : first.error;
    }
  } finally {
    // Failing before the pipeline ran leaves its streams open: a download would hold its connection.
    if (!piped) for (const stream of [...input, output, ...stages.map(({ stage }) => stage)]) stream.destroy();
    for (const release of releases) await release();
  }
}

/**
 * Like decodeObject, into a new file at `path`, with the decoders chained by
 * operating-system pipes when they are commands (`age -d | zstd -d > path`):
 * Node then only passes on the stored bytes, a third of what the restore
 * reads, which leaves the cores to the decoders and the sandbox starting
 * meanwhile.
 */
export async function decodeObjectToFile(input: Readable[], record: ObjectEncodingRecord, identity: Secret | undefined, path: string, signal: AbortSignal): Promise<void> {
  const tool = await compressionTool(record.compression ?? 'none');
  if ((tool && !tool.decompressCommand) || (!tool && !record.encryption)) {
    return decodeObject(input, record, identity, createWriteStream(path, { flags: 'wx', mode: 0o600 }), signal);
  }
  const commands: { command: string; args: string[]; stage: 'decrypt' | 'decompress' }[] = [];
  let releaseIdentity: (() => Promise<void>) | undefined;
  let file: FileHandle | undefined;
  let chain: ChainToFile | undefined;
  try {
    if (record.encryption) {
      if (!identity) throw new MissingIdentityError(record.encryption.recipients);
      const key = await identityFile(identity);
      releaseIdentity = key.release;
      commands.push({ ...decryptCommand(await findAge(), key.path), stage: 'decrypt' });
    }
    if (tool?.decompressCommand) commands.push({ ...tool.decompressCommand(), stage: 'decompress' });
    file = await open(path, 'wx', 0o600);
    chain = processChainToFile('pipe', commands, file.fd, { signal });
    const stdin = chain.stdin as Writable;
    // A decoder that dies closes its stdin: its exit status says why, not the EPIPE of the bytes still coming.
    stdin.on('error', () => undefined);
    let inputFailure: { error: unknown } | undefined;
    for (const stream of input) stream.once('error', (error) => (inputFailure ??= { error }));
    const [fed, ...exited] = await Promise.allSettled([pipeline([...input, stdin], { signal }), ...chain.exits]);
    if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('aborted');
    // The input failing (a download cut off) ends the decoders' input early: that is the cause, not what they say of it.
    if (inputFailure) throw inputFailure.error;
    // In chain order: a decompressor complaining about the short output of a failed decryption is only a consequence.
    const failed = exited.findIndex((result) => result.status === 'rejected');
    if (failed >= 0) throw new DecodeError(commands[failed]?.stage ?? 'decompress', (exited[failed] as PromiseRejectedResult).reason);
    if (fed.status === 'rejected') throw fed.reason;
  } finally {
    for (const stream of input) if (!stream.readableEnded) stream.destroy();
    await chain?.kill();
    await file?.close();
    await releaseIdentity?.();
  }
}

export class MissingIdentityError extends Error {
  constructor(recipients: string[]) {
    super(`it is encrypted (age, to ${recipients.join(', ')}) and the repository has no encryption.identity to decrypt it; add one as a secret reference`);
    this.name = 'MissingIdentityError';
  }
}
