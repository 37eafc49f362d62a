import { describe, expect, it } from 'vitest';
import { createNotifier, eventFor, notifyConfigSchema, wants } from '../../../src/notify/registry.ts';
import { smtpConfigSchema } from '../../../src/notify/email-notifier.ts';
import { ConfigError } from '../../../src/errors.ts';
import { parseWithEnvironment } from '../../../src/config/common.ts';

const email = notifyConfigSchema.parse({ type: 'email', to: ['oncall@example.com'] });
const webhook = notifyConfigSchema.parse({ type: 'webhook', url: 'https://hooks.slack.com/services/T000/B000/tokentokentoken', format: 'slack' });
const smtp = smtpConfigSchema.parse({ url: 'smtp://mail.internal:587', from: 'firedrill@example.com' });

describe('eventFor', () => {
  it('calls a failed run and a run that could not run a failure', () => {
    expect(eventFor('failed', 'passed')).toBe('failure');
    expect(eventFor('error', undefined)).toBe('failure');
    expect(eventFor('failed', 'failed')).toBe('failure');
  });

  it('calls a pass after a run that did not pass a recovery', () => {
    expect(eventFor('passed', 'failed')).toBe('recovery');
    expect(eventFor('passed', 'error')).toBe('recovery');
    expect(eventFor('passed', 'aborted')).toBe('recovery');
  });

  it('calls a pass after a pass, or a first run that passed, a success', () => {
    expect(eventFor('passed', 'passed')).toBe('success');
    expect(eventFor('passed', undefined)).toBe('success');
  });

  it('says nothing about an aborted run: it proves nothing about the backup', () => {
    expect(eventFor('aborted', 'passed')).toBeUndefined();
    expect(eventFor('aborted', 'failed')).toBeUndefined();
  });
});

describe('wants', () => {
  it('by default wants failures and recoveries, not every success', () => {
    const notifier = createNotifier(email, { smtp });

    expect([wants(notifier, 'failure'), wants(notifier, 'recovery'), wants(notifier, 'success'), wants(notifier, undefined)]).toEqual([true, true, false, false]);
  });

  it('counts a recovery as a success for a notifier that wants every pass', () => {
    const notifier = createNotifier(notifyConfigSchema.parse({ type: 'email', to: ['team@example.com'], on: ['success'] }), { smtp });

    expect([...notifier.events].sort()).toEqual(['recovery', 'success']);
  });

  it('expands always to every event', () => {
    const notifier = createNotifier(notifyConfigSchema.parse({ type: 'webhook', url: 'https://example.com/hook', on: ['always'] }), { smtp: undefined });

    expect([...notifier.events].sort()).toEqual(['failure', 'recovery', 'success']);
  });
});

describe('createNotifier', () => {
  it('refuses an email notifier when the runner config has no smtp settings, saying where they go', () => {
    expect(() => createNotifier(email, { smtp: undefined })).toThrow(ConfigError);
    expect(() => createNotifier(email, { smtp: undefined })).toThrow('notify[0]: email needs the smtp settings in config/firedrill.yaml (smtp: { url, from })');
  });

  it('describes an email notifier by its recipients', () => {
    expect(createNotifier(email, { smtp }).description).toBe('email to oncall@example.com');
  });

  it('describes a webhook by its host only: the path of a Slack URL is its token', () => {
    const notifier = createNotifier(webhook, { smtp: undefined });

    expect(notifier.description).toBe('webhook (slack) to hooks.slack.com');
  });

  it('describes a webhook whose URL is a secret by where the secret comes from', () => {
    const parsed = parseWithEnvironment(notifyConfigSchema, { type: 'webhook', url: { env: 'SLACK_WEBHOOK_URL' }, format: 'slack' }, { SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T1/B1/secrettoken' }, { resolveSecrets: true });
    const notifier = createNotifier(parsed.data!, { smtp: undefined });

    expect(notifier.description).toBe('webhook (slack) from env SLACK_WEBHOOK_URL');
  });
});
