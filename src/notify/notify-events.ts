import { z } from 'zod';
import type { NotificationEvent } from '../report/report.ts';

/**
 * The `on:` list every notifier shares: which events it is told about.
 * `failure`: a run did not pass (failed or error). `recovery`: a run passed
 * after one that did not. `success`: every passed run, recoveries included.
 * `always`: all three. An aborted run is no event: it says nothing about the
 * backup.
 */

export const NOTIFY_ON = ['failure', 'recovery', 'success', 'always'] as const;
export type NotifyOn = (typeof NOTIFY_ON)[number];

export const notifyOnSchema = z
  .array(z.enum(NOTIFY_ON))
  .min(1)
  .default(['failure', 'recovery'])
  .describe(
    'When to notify: failure (a run failed or could not run), recovery (a run passed after one that did not), ' +
      'success (every passed run, recoveries included), always (all of these). An aborted run notifies nobody. (Default: [failure, recovery])',
  );

/** The events a notifier configured with `on` wants; `success` includes recoveries, which are passed runs too. */
export function expandEvents(on: readonly NotifyOn[]): ReadonlySet<NotificationEvent> {
  const events = new Set<NotificationEvent>();
  for (const item of on) {
    if (item === 'always') for (const event of ['failure', 'recovery', 'success'] as const) events.add(event);
    else if (item === 'success') events.add('success').add('recovery');
    else events.add(item);
  }
  return events;
}
