import { z } from 'zod';
import type { Notifier } from './notifier.ts';
import type { NotificationEvent, RunStatus } from '../report/report.ts';
import { ConfigError, type ConfigProblem } from '../errors.ts';
import { EmailNotifier, emailNotifySchema, type EmailNotifyConfig, type SmtpConfig } from './email-notifier.ts';
import { WebhookNotifier, webhookNotifySchema, type WebhookNotifyConfig } from './webhook-notifier.ts';

/** Notifier types by their config `type`. Adding one: a new file and one line in each list below. */

export const notifyConfigSchema = z.discriminatedUnion('type', [emailNotifySchema, webhookNotifySchema]);
export type NotifyConfig = z.output<typeof notifyConfigSchema>;

/** What notifiers take from the runner config (a RunnerConfig fits: its `smtp` is optional). */
export interface NotifierRunnerSettings {
  smtp?: SmtpConfig | undefined;
}

type Factory = (config: NotifyConfig, runner: NotifierRunnerSettings) => Notifier | string;

const factories: Record<NotifyConfig['type'], Factory> = {
  email: (config, runner) =>
    runner.smtp ? new EmailNotifier(config as EmailNotifyConfig, runner.smtp) : 'email needs the smtp settings in config/firedrill.yaml (smtp: { url, from })',
  webhook: (config) => new WebhookNotifier(config as WebhookNotifyConfig),
};

/**
 * One notifier. `where` names it in a problem: the drill file and the key
 * path (`notify[0]`, the default).
 */
export function createNotifier(config: NotifyConfig, runner: NotifierRunnerSettings, where: { file?: string; path?: string } = {}): Notifier {
  const problem: ConfigProblem = { file: where.file ?? 'drill', path: where.path ?? 'notify[0]', message: '' };
  const factory = factories[config.type];
  if (!factory) throw new ConfigError([{ ...problem, path: `${problem.path}.type`, message: `unsupported notifier type: ${String(config.type)}` }]);
  const made = factory(config, runner);
  if (typeof made === 'string') throw new ConfigError([{ ...problem, message: made }]);
  return made;
}

/**
 * The event a finished run is, given the status of the run before it.
 * passed after a run that did not pass: recovery; passed: success; failed or
 * error: failure; aborted: none, an interrupted run says nothing about the
 * backup. `previousStatus` should be the last run that was not aborted, so
 * that a pass after failed, aborted is still a recovery.
 */
export function eventFor(status: RunStatus, previousStatus: RunStatus | undefined): NotificationEvent | undefined {
  switch (status) {
    case 'passed':
      return previousStatus !== undefined && previousStatus !== 'passed' ? 'recovery' : 'success';
    case 'failed':
    case 'error':
      return 'failure';
    case 'aborted':
      return undefined;
  }
}

/** Whether a notifier is configured for an event (`on:`). */
export function wants(notifier: Pick<Notifier, 'events'>, event: NotificationEvent | undefined): boolean {
  return event !== undefined && notifier.events.has(event);
}
