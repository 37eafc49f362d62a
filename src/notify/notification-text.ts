import type { NotificationEvent, ObjectiveRecord, Report } from '../report/report.ts';
import { formatDuration } from '../config/duration.ts';

/**
 * The short texts every notifier says the same way: the status word, the
 * one-line reason and the RTO, so that an email subject, a Slack message and
 * a log line about one run read alike.
 */

/** `RECOVERED` for a recovery, else the run's status: `PASSED`, `FAILED`, `ERROR`, `ABORTED`. */
export function statusWord(event: NotificationEvent | undefined, status: Report['status']): string {
  return event === 'recovery' ? 'RECOVERED' : status.toUpperCase();
}

/**
 * Why the run ended as it did, in one line of at most `limit` characters:
 * the first failed check, else the error's first line, else the missed
 * objectives; `5 checks passed` for a passed run.
 */
export function reasonLine(report: Report, limit = 120): string {
  return reason(report, limit).text;
}

/**
 * The reason and the RTO: `check "orders exist" failed: returned 0 (RTO 2m10s / 10m)`,
 * for subjects and Slack's fallback text. When the reason is the missed RTO
 * itself ("RTO 12m exceeds 10m"), the RTO is not said twice.
 */
export function headline(report: Report, limit = 120): string {
  const { text, namesRto } = reason(report, limit);
  return namesRto ? text : `${text}${rtoNote(report)}`;
}

function reason(report: Report, limit: number): { text: string; namesRto: boolean } {
  const line = (text: string) => ({ text: truncate(text, limit), namesRto: false });
  if (report.status === 'passed') return line(report.checks.length > 0 ? `${plural(report.checks.length, 'check')} passed` : 'restored (no checks configured)');
  const failed = report.checks.filter((check) => check.status === 'failed');
  const [first] = failed;
  if (first) {
    const more = failed.length > 1 ? ` (+${failed.length - 1} more)` : '';
    return { text: `${truncate(`check "${first.name}" failed: ${firstLine(first.message)}`, limit - more.length)}${more}`, namesRto: false };
  }
  if (report.error) return line(firstLine(report.error.message));
  const missed = Object.entries(report.objectives).filter(([, objective]) => objective.status === 'missed');
  if (missed.length > 0) {
    const text = missed.map(([name, objective]) => `${name.toUpperCase()} ${compactDuration(objective.measuredSeconds ?? 0)} exceeds ${objective.limit}`).join(', ');
    return { text: truncate(text, limit), namesRto: missed.some(([name]) => name === 'rto') };
  }
  return line(firstLine(report.summary.replace(/^[a-z]+: /, '')));
}

/** ` (RTO 2m10s / 10m)`, ` (RTO 12s)` without an objective, or nothing when RTO was not measured. */
export function rtoNote(report: Report): string {
  const measured = report.measured.rtoSeconds;
  if (measured === null) return '';
  const limit = report.objectives.rto?.limit;
  return ` (RTO ${compactDuration(measured)}${limit ? ` / ${limit.replaceAll(' ', '')}` : ''})`;
}

/** `2m10s`: a duration without the spaces `formatDuration` puts between units, for subjects and headers. */
export function compactDuration(seconds: number): string {
  return formatDuration(seconds * 1000).replaceAll(' ', '');
}

/** `2m 10s of 10m (met)`, `12s (no objective)`, `not measured (limit 10m)`; undefined when there is nothing to say. */
export function objectiveText(measuredSeconds: number | null, objective: ObjectiveRecord | undefined): string | undefined {
  const measured = measuredSeconds === null ? undefined : formatDuration(measuredSeconds * 1000);
  if (!objective) return measured === undefined ? undefined : `${measured} (no objective)`;
  if (measured === undefined) return `not measured (limit ${objective.limit})`;
  return `${measured} of ${objective.limit} (${objective.status})`;
}

/**
 * The first line, or, when it only introduces a list ("invalid configuration:"), the list joined on one line.
 * The report's summary says it the same way (src/report/build-report.ts keeps its own, unexported, copy).
 */
export function firstLine(text: string): string {
  const lines = text.split('\n');
  const first = lines[0] ?? '';
  return first.endsWith(':') && lines.length > 1 ? `${first} ${lines.slice(1).map((item) => item.trim()).join('; ')}` : first;
}

/** At most `limit` characters, the last one an ellipsis when cut. Cut only what is already redacted: half a secret is no longer recognized. */
export function truncate(text: string, limit: number): string {
  return text.length > limit ? `${text.slice(0, Math.max(0, limit - 1))}…` : text;
}

export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
