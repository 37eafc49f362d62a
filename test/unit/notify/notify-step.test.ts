import { describe, expect, it } from 'vitest';
import type { Notification, Notifier, NotifierContext } from '../../../src/notify/notifier.ts';
import type { NotificationEvent } from '../../../src/report/report.ts';
import { sendNotifications } from '../../../src/notify/notify-step.ts';
import { NotifyError } from '../../../src/notify/delivery.ts';
import { createLogger } from '../../../src/logger.ts';
import { Secret } from '../../../src/secret.ts';
import { failedReport, HTML_REPORT } from './sample-report.ts';

/** A notifier that does what it is told: the step's contract does not depend on how a notifier delivers. */
class ScriptedNotifier implements Notifier {
  readonly type = 'scripted';
  readonly events: ReadonlySet<NotificationEvent>;
  readonly description: string;
  readonly received: Notification[] = [];
  readonly #outcome: () => Promise<{ attempts: number }>;
  constructor(description: string, events: NotificationEvent[], outcome: () => Promise<{ attempts: number }>) {
    this.description = description;
    this.events = new Set(events);
    this.#outcome = outcome;
  }
  async send(notification: Notification): Promise<{ attempts: number }> {
    this.received.push(notification);
    return this.#outcome();
  }
}

function context(): { context: NotifierContext; lines: string[] } {
  const lines: string[] = [];
  return { context: { logger: createLogger({ destination: { write: (line) => lines.push(line) } }), signal: new AbortController().signal }, lines };
}

const base = { report: failedReport(), htmlReport: HTML_REPORT, previousStatus: 'passed' as const };

describe('sendNotifications', () => {
  it('sends to the notifiers that want the event, all at once, and records how it went', async () => {
    const started: string[] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slow = (name: string) => async () => {
      started.push(name);
      await gate;
      return { attempts: 1 };
    };
    const first = new ScriptedNotifier('first', ['failure'], slow('first'));
    const second = new ScriptedNotifier('second', ['failure', 'recovery'], slow('second'));
    const uninterested = new ScriptedNotifier('third', ['success'], slow('third'));
    const { context: ctx } = context();

    const sending = sendNotifications([first, second, uninterested], { ...base, event: 'failure' }, ctx);
    await new Promise((resolve) => setImmediate(resolve));
    expect(started).toEqual(['first', 'second']);
    release();

    expect(await sending).toEqual([
      { notifier: 'first', type: 'scripted', event: 'failure', status: 'sent', attempts: 1 },
      { notifier: 'second', type: 'scripted', event: 'failure', status: 'sent', attempts: 1 },
    ]);
    expect(first.received[0]?.event).toBe('failure');
  });

  it('records a failure with its attempts and message, logs it, and still sends to the others', async () => {
    Secret.fromValue('canary-notify-step-7731', 'test');
    const failing = new ScriptedNotifier('webhook (json) to example.com', ['failure'], async () => {
      throw new NotifyError('the endpoint at example.com refused it (HTTP 401: bad token canary-notify-step-7731); check the URL', 2);
    });
    const crashing = new ScriptedNotifier('crashing', ['failure'], async () => {
      throw new TypeError('not a notify error');
    });
    const working = new ScriptedNotifier('working', ['failure'], async () => ({ attempts: 1 }));
    const { context: ctx, lines } = context();

    const records = await sendNotifications([failing, crashing, working], { ...base, event: 'failure' }, ctx);

    expect(records).toEqual([
      {
        notifier: 'webhook (json) to example.com',
        type: 'scripted',
        event: 'failure',
        status: 'failed',
        attempts: 2,
        message: 'the endpoint at example.com refused it (HTTP 401: bad token [redacted]); check the URL',
      },
      { notifier: 'crashing', type: 'scripted', event: 'failure', status: 'failed', attempts: 1, message: 'not a notify error' },
      { notifier: 'working', type: 'scripted', event: 'failure', status: 'sent', attempts: 1 },
    ]);
    const errors = lines.map((line) => JSON.parse(line) as { level: number; msg: string }).filter((line) => line.level === 50);
    expect(errors.map((line) => line.msg)).toEqual([
      'notifying webhook (json) to example.com failed: the endpoint at example.com refused it (HTTP 401: bad token [redacted]); check the URL',
      'notifying crashing failed: not a notify error',
    ]);
    expect(lines.join('\n')).not.toContain('canary-notify-step-7731');
  });

  it('sends nothing for a run that is no event (aborted)', async () => {
    const notifier = new ScriptedNotifier('any', ['failure', 'recovery', 'success'], async () => ({ attempts: 1 }));

    expect(await sendNotifications([notifier], { ...base, event: undefined }, context().context)).toEqual([]);
    expect(notifier.received).toEqual([]);
  });
});
