import { spawnSync } from 'node:child_process';

/**
 * Secrets the tests hand to firedrill (the source password, the S3 secret
 * key, age identities), registered here as they are made. Every workspace
 * searches what firedrill printed and wrote, and every command line seen
 * while it ran, for each of them after every test (see `useWorkspace`), so a
 * leak anywhere in the suite fails the test that caused it, fault or not.
 *
 * Per test file: vitest gives each file its own module instance.
 */

const planted = new Map<string, string>();

/** Registers `value` as a secret firedrill must never show; returns it. */
export function plantSecret(value: string, what: string): string {
  // A short value would match by accident (and is not something tests plant).
  if (value.length < 12) throw new Error(`${what} is too short to be searched for as a canary`);
  planted.set(value, what);
  return value;
}

/** A fresh random secret, registered. */
export function canary(what: string): string {
  return plantSecret(`canary-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}-do-not-print`, what);
}

/** The names of the planted secrets that occur in `text`. */
export function secretsIn(text: string): string[] {
  return [...planted].filter(([value]) => text.includes(value)).map(([, what]) => what);
}

export function plantedSecretValues(): string[] {
  return [...planted.keys()];
}

/** A new age key pair from the Debian `age-keygen`; its secret key is planted. */
export function ageKeygen(): { key: string; recipient: string; secretKey: string } {
  const generated = spawnSync('age-keygen', [], { encoding: 'utf8' });
  if (generated.status !== 0) throw new Error(`age-keygen failed (${generated.status}): ${generated.stderr}`);
  const recipient = /public key: (age1[0-9a-z]+)/.exec(generated.stdout)?.[1];
  const secretKey = generated.stdout.split('\n').find((line) => line.startsWith('AGE-SECRET-KEY-'));
  if (!recipient || !secretKey) throw new Error(`age-keygen printed no key pair: ${generated.stdout}`);
  return { key: generated.stdout, recipient, secretKey: plantSecret(secretKey, 'an age identity') };
}
