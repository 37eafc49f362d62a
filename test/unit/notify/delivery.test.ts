import { describe, expect, it } from 'vitest';
import { NotifyError, backoffDelay, deliverWithRetries, snippet, type Delivery } from '../../../src/notify/delivery.ts';
import { createLogger } from '../../../src/logger.ts';
import { Secret } from '../../../src/secret.ts';
import { retryAfter, signatureFor } from '../../../src/notify/webhook-notifier.ts';

describe('backoffDelay', () => {
  it('doubles from the base delay, up to the cap', () => {
    expect([1, 2, 3, 4].map((attempt) => backoffDelay(attempt))).toEqual([1_000, 2_000, 4_000, 8_000]);
    expect(backoffDelay(10, { baseDelayMs: 1_000, maxDelayMs: 5_000 })).toBe(5_000);
  });
});

describe('deliverWithRetries', () => {
  /** A delivery whose attempts fail with the given failures in turn, then deliver; `made` counts the attempts. */
  function scripted(failures: string[]): Delivery<string> & { made: number } {
    const delivery: Delivery<string> & { made: number } = {
      made: 0,
      notifier: 'test',
      target: 'test to example.com',
      maxAttempts: 3,
      timing: { baseDelayMs: 1 },
      attempt: async () => failures[delivery.made++],
      classify: (failure) => (failure === 'busy' ? { retry: true, brief: failure } : { retry: false }),
      fail: (failure, attempts) => new NotifyError(`failed: ${failure}`, attempts),
    };
    return delivery;
  }
  const lines: string[] = [];
  const context = { logger: createLogger({ destination: { write: (line) => lines.push(line) } }), signal: new AbortController().signal };

  it('tries again while the failure is worth it, and counts the attempts', async () => {
    expect(await deliverWithRetries(scripted(['busy', 'busy']), context)).toEqual({ attempts: 3 });
    expect(lines.filter((line) => line.includes('test to example.com: attempt'))).toHaveLength(2);
  });

  it('stops at the first final failure, and after the last attempt', async () => {
    await expect(deliverWithRetries(scripted(['busy', 'refused']), context)).rejects.toMatchObject({ message: 'failed: refused', attempts: 2 });
    await expect(deliverWithRetries(scripted(['busy', 'busy', 'busy']), context)).rejects.toMatchObject({ message: 'failed: busy', attempts: 3 });
  });

  it('makes no attempt when the process is already stopping', async () => {
    const delivery = scripted([]);

    await expect(deliverWithRetries(delivery, { ...context, signal: AbortSignal.abort() })).rejects.toMatchObject({ attempts: 0 });
    expect(delivery.made).toBe(0);
  });
});

describe('snippet', () => {
  it('redacts a secret before it cuts the text, so no part of the secret is left', () => {
    Secret.fromValue('canary-snippet-secret-0b7e', 'test');

    expect(snippet(`${'x'.repeat(15)} canary-snippet-secret-0b7e and more`, 30)).toBe(`${'x'.repeat(15)} [redacted] an…`);
  });

  it('gives the first line that says something', () => {
    expect(snippet('\n  \n550 relaying denied\nsecond line')).toBe('550 relaying denied');
  });
});

describe('retryAfter', () => {
  const now = Date.parse('2026-11-26T12:00:00Z');

  it('reads seconds and HTTP dates, and ignores what it cannot read', () => {
    expect(retryAfter('30', now)).toBe(30_000);
    expect(retryAfter('Thu, 26 Nov 2026 12:00:05 GMT', now)).toBe(5_000);
    expect(retryAfter('Thu, 26 Nov 2026 11:00:00 GMT', now)).toBe(0);
    expect(retryAfter('soon', now)).toBeUndefined();
    expect(retryAfter(null, now)).toBeUndefined();
  });
});

describe('signatureFor', () => {
  it('is the hex HMAC-SHA256 of "<timestamp>.<body>", prefixed with sha256=', () => {
    // Computed independently: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac key
    expect(signatureFor('key', '1700000000', '{"a":1}')).toBe(`sha256=${HMAC_OF_SAMPLE}`);
  });
});

const HMAC_OF_SAMPLE = 'a438e398bfafc57e4396bb7fc2304422f0f768e965d073ca313cb52e22e6ad03';
