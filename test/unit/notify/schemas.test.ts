import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { emailNotifySchema, requiresStartTls, smtpConfigSchema, smtpEndpoint } from '../../../src/notify/email-notifier.ts';
import { webhookNotifySchema } from '../../../src/notify/webhook-notifier.ts';
import { parseWithEnvironment } from '../../../src/config/common.ts';

/** The problems zod finds, as `path: message`. */
function problems(schema: z.ZodType, input: unknown, env: NodeJS.ProcessEnv = {}): string[] {
  const result = parseWithEnvironment(schema, input, env, { resolveSecrets: true });
  return result.success ? [] : result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
}

describe('smtp settings', () => {
  it('refuses a password inside the URL, pointing to password: { env: ... }, without repeating it', () => {
    const found = problems(smtpConfigSchema, { url: 'smtp://alerts:hunter2-canary@mail.internal:587', from: 'firedrill@example.com' });

    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^url: a password inside smtp\.url .* use password: \{ env: SMTP_PASSWORD \}/);
    expect(found[0]).not.toContain('hunter2-canary');
  });

  it('accepts smtp:// and smtps:// and refuses other schemes, paths and queries', () => {
    expect(problems(smtpConfigSchema, { url: 'smtp://mail.internal:587', from: 'firedrill@example.com' })).toEqual([]);
    expect(problems(smtpConfigSchema, { url: 'smtps://mail.internal', from: 'firedrill@example.com' })).toEqual([]);
    expect(problems(smtpConfigSchema, { url: 'http://mail.internal', from: 'firedrill@example.com' })).toEqual(['url: expected smtp:// or smtps://, got http://']);
    expect(problems(smtpConfigSchema, { url: 'smtp://mail.internal/?pool=true', from: 'firedrill@example.com' })[0]).toMatch(/without a path or query/);
    expect(problems(smtpConfigSchema, { url: 'mail.internal', from: 'firedrill@example.com' })[0]).toMatch(/expected smtp:\/\/host\[:port\]/);
  });

  it('fills in the submission ports: 587 for smtp://, 465 for smtps://', () => {
    expect(smtpEndpoint('smtp://mail.internal')).toEqual({ host: 'mail.internal', port: 587, secure: false, where: 'mail.internal:587' });
    expect(smtpEndpoint('smtps://mail.internal')).toEqual({ host: 'mail.internal', port: 465, secure: true, where: 'mail.internal:465' });
  });

  it('connects to an IPv6 address without brackets, and names it with them', () => {
    expect(smtpEndpoint('smtp://[::1]:2525')).toEqual({ host: '::1', port: 2525, secure: false, where: '[::1]:2525' });
  });

  it('takes the password as a secret reference, and wants user and password together', () => {
    const parsed = parseWithEnvironment(
      smtpConfigSchema,
      { url: 'smtp://mail.internal', from: 'firedrill <firedrill@example.com>', user: 'alerts', password: { env: 'SMTP_PASSWORD' } },
      { SMTP_PASSWORD: 'canary-smtp-password' },
      { resolveSecrets: true },
    );

    expect(parsed.success).toBe(true);
    expect(parsed.data?.password?.reveal()).toBe('canary-smtp-password');
    expect(JSON.stringify(parsed.data)).not.toContain('canary-smtp-password');
    expect(problems(smtpConfigSchema, { url: 'smtp://mail.internal', from: 'firedrill@example.com', user: 'alerts' })).toEqual([
      'password: user and password go together: set both to log in, or neither',
    ]);
    expect(problems(smtpConfigSchema, { url: 'smtp://mail.internal', from: 'firedrill@example.com', user: 'alerts', password: 'inline' })[0]).toMatch(/^password: expected a secret reference/);
  });

  it('defaults to verified TLS and a 30s timeout', () => {
    const parsed = smtpConfigSchema.parse({ url: 'smtp://mail.internal', from: 'firedrill@example.com' });

    expect(parsed.tls).toEqual({ rejectUnauthorized: true });
    expect(parsed.timeout).toBe(30_000);
  });

  it('requires STARTTLS by default when there is a password to send, and not without one', () => {
    const tls = (requireTLS?: boolean) => smtpConfigSchema.shape.tls.parse(requireTLS === undefined ? {} : { requireTLS });

    expect(requiresStartTls({ tls: tls() })).toBe(false);
    expect(requiresStartTls({ user: 'alerts', tls: tls() })).toBe(true);
    expect(requiresStartTls({ user: 'alerts', tls: tls(false) })).toBe(false);
    expect(requiresStartTls({ tls: tls(true) })).toBe(true);
  });

  it('refuses a sender that is not an address', () => {
    expect(problems(smtpConfigSchema, { url: 'smtp://mail.internal', from: 'firedrill' })).toEqual([
      'from: expected an email address, or a name and an address: firedrill <firedrill@example.com>',
    ]);
  });
});

describe('email notifier settings', () => {
  it('defaults to failures and recoveries, and the [firedrill] subject prefix', () => {
    expect(emailNotifySchema.parse({ type: 'email', to: ['oncall@example.com'] })).toEqual({
      type: 'email',
      to: ['oncall@example.com'],
      on: ['failure', 'recovery'],
      subjectPrefix: '[firedrill]',
    });
  });

  it('refuses a recipient that is not an email address, and an empty list', () => {
    expect(problems(emailNotifySchema, { type: 'email', to: ['oncall@example.com', 'oncall'] })).toEqual(['to.1: expected an email address like oncall@example.com']);
    expect(problems(emailNotifySchema, { type: 'email', to: [] })).toHaveLength(1);
    expect(problems(emailNotifySchema, { type: 'email', to: ['a@example.com'], cc: ['not an address'] })).toEqual(['cc.0: expected an email address like oncall@example.com']);
  });

  it('refuses an unknown event and an unknown key', () => {
    expect(problems(emailNotifySchema, { type: 'email', to: ['a@example.com'], on: ['failures'] })).toHaveLength(1);
    expect(problems(emailNotifySchema, { type: 'email', to: ['a@example.com'], subject: 'x' })).toHaveLength(1);
  });

  it('refuses a subject prefix of several lines: it would forge headers', () => {
    expect(problems(emailNotifySchema, { type: 'email', to: ['a@example.com'], subjectPrefix: '[x]\r\nBcc: someone@example.com' })).toEqual(['subjectPrefix: must be a single line']);
  });
});

describe('webhook notifier settings', () => {
  it('defaults to json, three retries and a 10s timeout', () => {
    expect(webhookNotifySchema.parse({ type: 'webhook', url: 'https://example.com/hooks/firedrill' })).toEqual({
      type: 'webhook',
      url: 'https://example.com/hooks/firedrill',
      format: 'json',
      on: ['failure', 'recovery'],
      retries: 3,
      timeout: 10_000,
    });
  });

  it('takes the URL from a secret reference, and says which variable is missing', () => {
    expect(problems(webhookNotifySchema, { type: 'webhook', url: { env: 'SLACK_WEBHOOK_URL' } }, { SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T/B/x' })).toEqual([]);
    expect(problems(webhookNotifySchema, { type: 'webhook', url: { env: 'SLACK_WEBHOOK_URL' } })).toEqual([
      'url: environment variable SLACK_WEBHOOK_URL is not set (it holds a secret; set it, or use { file: PATH })',
    ]);
  });

  it('refuses a URL that is not http(s), including one held in a secret, without repeating it', () => {
    expect(problems(webhookNotifySchema, { type: 'webhook', url: 'ftp://example.com/x' })).toEqual(['url: expected an http:// or https:// URL, got ftp://']);
    const found = problems(webhookNotifySchema, { type: 'webhook', url: { env: 'HOOK' } }, { HOOK: 'hooks.slack.com/services/T/B/secrettoken' });

    expect(found).toEqual(['url: the URL in env HOOK: expected an http:// or https:// URL']);
  });

  it('refuses credentials inside a plain URL', () => {
    expect(problems(webhookNotifySchema, { type: 'webhook', url: 'https://user:pw@example.com/x' })[0]).toMatch(/^url: credentials inside the URL .* url: \{ env: NAME \}/);
  });

  it('refuses headers firedrill sets itself, and takes secret header values', () => {
    expect(problems(webhookNotifySchema, { type: 'webhook', url: 'https://example.com/x', headers: { 'X-Firedrill-Signature': 'forged' } })).toEqual([
      'headers.X-Firedrill-Signature: firedrill sets this header itself',
    ]);
    expect(problems(webhookNotifySchema, { type: 'webhook', url: 'https://example.com/x', headers: { Authorization: { env: 'HOOK_TOKEN' } } }, { HOOK_TOKEN: 'Bearer abc' })).toEqual([]);
  });

  it('refuses a header value with a line break or a control character, naming the header but never the value', () => {
    const found = [
      ...problems(webhookNotifySchema, { type: 'webhook', url: 'https://example.com/x', headers: { 'X-Team': 'dba\r\nX-Forged: canary-plain-value' } }),
      ...problems(webhookNotifySchema, { type: 'webhook', url: 'https://example.com/x', headers: { Authorization: { env: 'HOOK_TOKEN' } } }, { HOOK_TOKEN: 'Bearer canary-secret-value\n' }),
    ];

    expect(found).toHaveLength(2);
    expect(found[0]).toMatch(/^headers\.X-Team: a header value must be one line of visible Latin-1 characters/);
    expect(found[1]).toMatch(/^headers\.Authorization: the value in env HOOK_TOKEN: a header value must be one line/);
    expect(found.join('\n')).not.toContain('canary');
  });
});
