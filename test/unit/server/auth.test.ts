import { describe, expect, it } from 'vitest';
import { authorize, tokensEqual } from '../../../src/server/auth.ts';
import { Secret } from '../../../src/secret.ts';

describe('authorize', () => {
  const token = Secret.fromValue('s3cr3t-token-for-auth-tests', 'env TEST_TOKEN');

  it('is disabled when no token is configured, whatever is sent', () => {
    expect(authorize('Bearer s3cr3t-token-for-auth-tests', undefined)).toEqual({ result: 'disabled' });
    expect(authorize(undefined, undefined)).toEqual({ result: 'disabled' });
  });

  it('allows the configured token sent as a bearer token, the scheme in any case', () => {
    expect(authorize('Bearer s3cr3t-token-for-auth-tests', token)).toEqual({ result: 'allowed' });
    expect(authorize('bearer s3cr3t-token-for-auth-tests', token)).toEqual({ result: 'allowed' });
  });

  it('calls a missing or malformed header missing, and another token wrong', () => {
    for (const header of [undefined, '', 'Bearer', 'Bearer ', 'Basic dXNlcjpwYXNz', 's3cr3t-token-for-auth-tests', 'Bearer two words']) {
      expect(authorize(header, token), String(header)).toEqual({ result: 'missing' });
    }
    expect(authorize('Bearer s3cr3t-token-for-auth-test', token)).toEqual({ result: 'wrong token' });
    expect(authorize('Bearer s3cr3t-token-for-auth-tests-and-more', token)).toEqual({ result: 'wrong token' });
  });
});

describe('tokensEqual', () => {
  it('compares whole values, of any lengths, without throwing on a length mismatch', () => {
    expect(tokensEqual('abc', 'abc')).toBe(true);
    expect(tokensEqual('abc', 'abd')).toBe(false);
    expect(tokensEqual('', 'abc')).toBe(false);
    expect(tokensEqual('a'.repeat(10_000), 'a')).toBe(false);
    expect(tokensEqual('tōken', 'tōken')).toBe(true);
  });
});
