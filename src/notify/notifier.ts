import type { Logger } from '../logger.ts';
import type { NotificationEvent, Report } from '../report/report.ts';

/**
 * Notifiers tell people and systems about a finished run: email, webhooks.
 * Each drill lists its notifiers (`notify:`) with the events they want; the
 * run decides the event (failure, recovery, success) from its report and the
 * previous run's status, and calls every notifier that wants it.
 *
 * A notifier that fails is logged and recorded in the report; it never
 * changes the run's status or hides its outcome.
 */

/** What a notifier gets: the finished report, its rendered HTML report, and why it is being told. */
export interface Notification {
  event: NotificationEvent;
  report: Report;
  /** The full, self-contained HTML report (attached to emails). */
  htmlReport: string;
  /** The status of the run before this one, when there was one (a recovery names it). */
  previousStatus: Report['status'] | undefined;
}

export interface NotifierContext {
  logger: Logger;
  /** Fires when the process is stopping: give up retrying. */
  signal: AbortSignal;
}

export interface Notifier {
  readonly type: string;
  /** For reports and logs, without secrets: `email to oncall@example.com`, `webhook (slack) from env SLACK_WEBHOOK_URL`. */
  readonly description: string;
  /** The events this notifier is configured for (`on:`), with `always` expanded. */
  readonly events: ReadonlySet<NotificationEvent>;
  /**
   * Delivers the notification, retrying what is worth retrying. Resolves with
   * the number of attempts made; rejects (with the attempts on the error as
   * `attempts`) when it finally fails, with a message that says what to do.
   */
  send(notification: Notification, context: NotifierContext): Promise<{ attempts: number }>;
}
