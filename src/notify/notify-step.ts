import type { Notification, Notifier, NotifierContext } from './notifier.ts';
import type { NotificationEvent, NotificationRecord } from '../report/report.ts';
import { errorMessage } from '../errors.ts';
import { redactText } from '../redact.ts';
import { wants } from './registry.ts';

/**
 * Tells every notifier that wants the run's event, all at once. A notifier
 * that fails is logged and recorded; it never throws out of here, and never
 * changes the run's status: reporting must not hide the drill's outcome.
 */
export async function sendNotifications(
  notifiers: readonly Notifier[],
  notification: Omit<Notification, 'event'> & { event: NotificationEvent | undefined },
  context: NotifierContext,
): Promise<NotificationRecord[]> {
  const { event } = notification;
  if (event === undefined) return [];
  const wanted = notifiers.filter((notifier) => wants(notifier, event));
  return Promise.all(
    wanted.map(async (notifier): Promise<NotificationRecord> => {
      const record = { notifier: notifier.description, type: notifier.type, event };
      try {
        const { attempts } = await notifier.send({ ...notification, event }, context);
        context.logger.info({ notifier: notifier.description, event, attempts }, `notified ${notifier.description} of the ${event}`);
        return { ...record, status: 'sent', attempts };
      } catch (error) {
        const attempts = attemptsOf(error);
        const message = redactText(errorMessage(error));
        context.logger.error({ notifier: notifier.description, event, attempts }, `notifying ${notifier.description} failed: ${message}`);
        return { ...record, status: 'failed', attempts, message };
      }
    }),
  );
}

function attemptsOf(error: unknown): number {
  const attempts = (error as { attempts?: unknown } | null)?.attempts;
  return typeof attempts === 'number' && Number.isInteger(attempts) && attempts >= 0 ? attempts : 1;
}
