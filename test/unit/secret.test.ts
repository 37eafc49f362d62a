import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { redactText } from '../../src/redact.ts';
import { Secret } from '../../src/secret.ts';

describe('Secret', () => {
  const secret = Secret.fromValue('never-print-me-0101', 'env ORDERS_DB_PASSWORD');

  it('prints as [redacted] through String()', () => {
    expect(String(secret)).toBe('[redacted]');
  });

  it('prints as [redacted] in a template literal', () => {
    // The cast only quiets the type checker; at run time the Secret object itself is interpolated.
    expect(`password is ${secret as unknown as string}`).toBe('password is [redacted]');
  });

  it('prints as [redacted] through JSON.stringify, also nested', () => {
    expect(JSON.stringify({ connection: { password: secret } })).toBe('{"connection":{"password":"[redacted]"}}');
  });

  it('prints as [redacted] through util.inspect, as console.log would show it', () => {
    expect(inspect(secret)).toBe('[redacted]');
    expect(inspect({ password: secret }, { depth: 5 })).toBe('{ password: [redacted] }');
  });

  it('gives its value only through reveal()', () => {
    expect(secret.reveal()).toBe('never-print-me-0101');
    expect(secret.origin).toBe('env ORDERS_DB_PASSWORD');
  });

  it('registers its value for redaction the moment it holds it', () => {
    expect(redactText('leaked never-print-me-0101 here')).toBe('leaked [redacted] here');
  });

  it('starts unresolved from a reference, and resolving it when it is first revealed names a missing variable as a config problem', () => {
    const fromReference = Secret.fromReference({ env: 'UNIT_SECRET_0102' });

    expect(fromReference.resolved).toBe(false);
    expect(() => fromReference.reveal()).toThrow(
      'invalid configuration:\n  env UNIT_SECRET_0102: environment variable UNIT_SECRET_0102 is not set (it holds a secret; set it, or use { file: PATH })',
    );
    expect(fromReference.resolved).toBe(false);
    expect(fromReference.resolve({ UNIT_SECRET_0102: 'resolved-value-0102' })).toBeUndefined();
    expect(fromReference.reveal()).toBe('resolved-value-0102');
    expect(redactText('resolved-value-0102')).toBe('[redacted]');
  });

  it('resolves from the environment when first revealed, for commands that load the config without secrets', () => {
    process.env.UNIT_SECRET_LAZY_0103 = 'lazy-value-0103';
    try {
      const lazy = Secret.fromReference({ env: 'UNIT_SECRET_LAZY_0103' });
      expect(lazy.reveal()).toBe('lazy-value-0103');
      expect(redactText('lazy-value-0103')).toBe('[redacted]');
    } finally {
      delete process.env.UNIT_SECRET_LAZY_0103;
    }
  });

  it('explains a missing variable instead of throwing', () => {
    expect(Secret.fromReference({ env: 'UNIT_SECRET_ABSENT' }).resolve({})).toBe(
      'environment variable UNIT_SECRET_ABSENT is not set (it holds a secret; set it, or use { file: PATH })',
    );
  });

  it('explains an unreadable secret file, naming it', () => {
    expect(Secret.fromReference({ file: '/nonexistent/firedrill-secret' }).resolve({})).toBe(
      'cannot read secret file /nonexistent/firedrill-secret (ENOENT); check the path and that firedrill may read it',
    );
  });
});
