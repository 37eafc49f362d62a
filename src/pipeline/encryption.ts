import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import type { Secret } from '../secret.ts';
import { childStage } from './child-stage.ts';
import { findExecutable } from './executables.ts';
import { spawnChild } from './child-process.ts';
import { createWorkDirectory } from './work-directory.ts';
import { errorMessage } from '../errors.ts';

/**
 * Encryption in the age format (https://age-encryption.org), by the standard
 * `age` binary: about 1.3 GB/s where the pure-JS implementation manages a
 * tenth of that, and a stored object is exactly what `age -d` reads.
 * Recipients (public keys) go on its command line; the identity (the private
 * key) never does: it is written to a 0600 file in a private temp directory
 * that lives only as long as the decryption.
 */

/** An X25519 recipient: `age1` and 58 bech32 characters. */
export const AGE_RECIPIENT_PATTERN = /^age1[02-9ac-hj-np-z]{58}$/;

const BECH32_CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const BECH32_GENERATOR = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];

/**
 * Whether a recipient's bech32 checksum holds (BIP 173), so `validate`
 * catches a mistyped key before a backup is encrypted to it.
 */
export function hasValidChecksum(recipient: string): boolean {
  const separator = recipient.lastIndexOf('1');
  const prefix = recipient.slice(0, separator);
  const data = [...recipient.slice(separator + 1)].map((character) => BECH32_CHARSET.indexOf(character));
  if (separator < 1 || data.some((value) => value < 0)) return false;
  const expanded = [...[...prefix].map((character) => character.charCodeAt(0) >> 5), 0, ...[...prefix].map((character) => character.charCodeAt(0) & 31)];
  let checksum = 1;
  for (const value of [...expanded, ...data]) {
    const top = checksum >>> 25;
    checksum = ((checksum & 0x1ffffff) << 5) ^ value;
    BECH32_GENERATOR.forEach((generator, bit) => {
      if ((top >>> bit) & 1) checksum ^= generator;
    });
  }
  return checksum === 1;
}

/** age's own stderr without its closing line that sends users to age's issue tracker: the problem here is a key, not age. */
export function withoutAgeBoilerplate(message: string): string {
  return message
    .split('\n')
    .filter((line) => !/report unexpected or unhelpful errors/.test(line))
    .join('\n');
}

const MISSING_AGE = 'the age binary is not installed (Debian/Ubuntu: apt install age; other systems: https://age-encryption.org)';

let ageBinary: Promise<string | undefined> | undefined;

/** The `age` binary, or an Error that says how to install it. */
export async function findAge(): Promise<string> {
  ageBinary ??= findExecutable('age');
  const binary = await ageBinary;
  if (!binary) throw new Error(MISSING_AGE);
  return binary;
}

export function encryptStage(binary: string, recipients: string[]): Duplex {
  const { command, args } = encryptCommand(binary, recipients);
  return childStage(command, args);
}

export function encryptCommand(binary: string, recipients: string[]): { command: string; args: string[] } {
  if (recipients.length === 0) throw new Error('no age recipients: refusing to store a backup unencrypted when encryption is configured');
  return { command: binary, args: ['--encrypt', ...recipients.flatMap((recipient) => ['--recipient', recipient])] };
}

/**
 * The identity as a 0600 file for `age --identity`, in a work directory: should
 * firedrill be killed outright, the next restore or cleanup removes the key.
 * Call `release` once age has exited, on every path.
 */
export async function identityFile(identity: Secret): Promise<{ path: string; release: () => Promise<void> }> {
  const work = await createWorkDirectory('age');
  const release = () => work.release();
  try {
    const path = join(work.path, 'identity');
    await writeFile(path, `${identity.reveal()}\n`, { mode: 0o600 });
    return { path, release };
  } catch (error) {
    await release();
    throw error;
  }
}

export function decryptCommand(binary: string, identityPath: string): { command: string; args: string[] } {
  return { command: binary, args: ['--decrypt', '--identity', identityPath] };
}

/** A decryption stage and what removes its identity file; call `release` once the stage has ended, on every path. */
export async function decryptStage(binary: string, identity: Secret): Promise<{ stage: Duplex; release: () => Promise<void> }> {
  const file = await identityFile(identity);
  const { command, args } = decryptCommand(binary, file.path);
  return { stage: childStage(command, args), release: file.release };
}

/**
 * Proves the recipients usable by encrypting nothing to them: age itself
 * judges every key (a typo in a bech32 checksum included), before any dump
 * starts. Throws with age's own words.
 */
export async function checkRecipients(binary: string, recipients: string[]): Promise<void> {
  const { command, args } = encryptCommand(binary, recipients);
  const child = spawnChild(command, args, { stdin: 'pipe', stdout: 'ignore' });
  child.stdin.on('error', () => undefined);
  child.stdin.end();
  await child.succeeded.catch((error: unknown) => {
    throw new Error(withoutAgeBoilerplate(errorMessage(error)), { cause: error });
  });
}

/** The public keys of an identity (`age-keygen -y`, the key on stdin, never on a command line). */
export async function recipientsOfIdentity(identity: Secret): Promise<string[]> {
  const keygen = await findExecutable('age-keygen');
  if (!keygen) throw new Error('age-keygen is not installed (it comes with age)');
  const child = spawnChild(keygen, ['-y'], { stdin: 'pipe', stdout: 'pipe' });
  let output = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => (output += chunk));
  child.stdin.on('error', () => undefined);
  child.stdin.end(`${identity.reveal()}\n`);
  await child.succeeded.catch((error: unknown) => {
    throw new Error(withoutAgeBoilerplate(errorMessage(error)), { cause: error });
  });
  return output.split('\n').map((line) => line.trim()).filter((line) => line.startsWith('age1'));
}
