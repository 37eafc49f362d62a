import { describe, expect, it } from 'vitest';
import { REDACTED, redactText } from '../../src/redact.ts';
import { Secret } from '../../src/secret.ts';

// Registered secrets are process-wide; every test uses values of its own.

describe('redactText', () => {
  it('masks the password of a URL and keeps the rest of it', () => {
    expect(redactText('connecting to postgres://backup:hunter2hunter@db.internal:5432/orders')).toBe(
      'connecting to postgres://backup:[redacted]@db.internal:5432/orders',
    );
  });

  it('masks the password of any URL scheme, wherever it is in the text', () => {
    expect(redactText('a https://u:p4ss@h/x and s3://k:s3cret@bucket b')).toBe('a https://u:[redacted]@h/x and s3://k:[redacted]@bucket b');
  });

  it('leaves a URL without a password as it is', () => {
    const text = 'postgres://backup@db.internal:5432/orders?sslmode=require';
    expect(redactText(text)).toBe(text);
  });

  it('masks password=... in libpq keyword strings, quoted or not, whatever the case', () => {
    expect(redactText('host=db password=hunter2 user=backup')).toBe('host=db password=[redacted] user=backup');
    expect(redactText("host=db password='with spaces' user=backup")).toBe('host=db password=[redacted] user=backup');
    expect(redactText('PASSWORD = hunter2')).toBe('PASSWORD = [redacted]');
  });

  it('masks every registered secret, wherever it appears', () => {
    Secret.fromValue('registered-secret-0001', 'test');

    expect(redactText('token registered-secret-0001 in a message, and again:registered-secret-0001')).toBe(
      `token ${REDACTED} in a message, and again:${REDACTED}`,
    );
  });

  it('masks each line of a multi-line secret (a key file) on its own, but not its comments', () => {
    Secret.fromValue('# created: 2026-11-26T12:00:00Z\n# public key: age1notsecret0003\nAGE-SECRET-KEY-1LINESECRET0003\n', 'test');

    expect(redactText('age said: AGE-SECRET-KEY-1LINESECRET0003 is malformed')).toBe(`age said: ${REDACTED} is malformed`);
    expect(redactText('recipient age1notsecret0003')).toBe('recipient age1notsecret0003');
  });

  it('masks a registered secret in its JSON-escaped form', () => {
    const value = 'quote"and\\backslash-0002';
    Secret.fromValue(value, 'test');

    const json = JSON.stringify({ note: `the secret is ${value}` });

    expect(json).not.toContain(value);
    expect(redactText(json)).toBe(`{"note":"the secret is ${REDACTED}"}`);
  });

  it('masks a registered secret in its percent-encoded form', () => {
    Secret.fromValue('p@ss/word 0003', 'test');

    expect(redactText('https://example.test/hook?token=p%40ss%2Fword%200003')).toBe(`https://example.test/hook?token=${REDACTED}`);
  });

  it('masks a registered secret whole when it contains another registered secret', () => {
    Secret.fromValue('inner-0004', 'test');
    Secret.fromValue('outer-inner-0004-tail', 'test');

    expect(redactText('x outer-inner-0004-tail y')).toBe(`x ${REDACTED} y`);
  });

  it('masks all of a registered URL password that contains an unencoded @', () => {
    // new URL() accepts `postgres://alice:p@ssword-0005@db/shop` with the password "p@ssword-0005".
    Secret.fromValue('p@ssword-0005', 'source.url');

    const redacted = redactText('connecting to postgres://alice:p@ssword-0005@db/shop');

    expect(redacted).not.toContain('ssword-0005');
  });

  it('does not scrub secrets shorter than four characters: masking every "abc" would destroy the text', () => {
    // Intended: such a short secret is still never printed on purpose (Secret prints as [redacted]).
    Secret.fromValue('abc', 'test');

    expect(redactText('abc abcd xabcx')).toBe('abc abcd xabcx');
  });

  it('leaves text without secrets unchanged', () => {
    const text = 'restored 1200 rows in 3.2s; see https://firedrill.example/runs/42 at 10:30@home';
    expect(redactText(text)).toBe(text);
  });
});
