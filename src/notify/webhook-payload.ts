import type { Notification } from './notifier.ts';
import type { NotificationEvent, ObjectiveRecord, RunStatus } from '../report/report.ts';
import { formatBytes } from '../format-bytes.ts';
import { headline, objectiveText, statusWord, truncate } from './notification-text.ts';

/**
 * What a webhook receives. `format: json` posts a `WebhookPayload`, a small,
 * versioned summary of the report (metadata only: names, counts, durations,
 * sizes, hashes and messages, never data or secrets); receivers that want
 * everything fetch the report itself. `format: slack` posts a Slack Block Kit
 * message built from the same facts.
 *
 * The report a notifier gets is redacted already, every string of it, so
 * nothing here redacts again: it could not anyway, once a text is escaped
 * for Slack or cut short.
 */

/** Changes when a field of `WebhookPayload` changes meaning or goes away; new fields may appear without it. */
export const WEBHOOK_SCHEMA_VERSION = 1;

/** An objective as the payload gives it. */
export interface WebhookObjective {
  /** What was measured, in seconds; null when it was not (the restore never got verified, or nothing was restored). */
  measuredSeconds: number | null;
  /** The drill's objective in seconds; null when the drill sets none. */
  limitSeconds: number | null;
  /** `met`, `missed`, `not measured` (an objective, nothing measured) or `no objective`. */
  status: ObjectiveRecord['status'] | 'no objective';
}

/** The JSON body of `format: json`. */
export interface WebhookPayload {
  schemaVersion: typeof WEBHOOK_SCHEMA_VERSION;
  /** Why this was sent: `failure`, `recovery` or `success`. */
  event: NotificationEvent;
  drill: string;
  runId: string;
  /** `passed`, `failed` (the backup or a check or an objective failed) or `error` (the drill could not run). */
  status: RunStatus;
  /** The status of the run before this one, when known (a recovery's previous failure). */
  previousStatus: RunStatus | null;
  /** One line for people: `failed: check "orders exist" failed: returned 0`. */
  summary: string;
  /** ISO 8601, UTC. */
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  /** Recovery time: from the start of the restore until the restore was verified. */
  rto: WebhookObjective;
  /** Recovery point: the age of the restored data. */
  rpo: WebhookObjective;
  /** The first `MAX_FAILED_CHECKS` (50) failed checks; each message at most `MAX_MESSAGE_LENGTH` (2,000) characters, ending in `…` when cut. */
  failedChecks: { name: string; message: string }[];
  /** How many more checks failed than `failedChecks` lists. */
  moreFailedChecks: number;
  /** The backup drilled; null when the run never got one. `sha256` is the manifest's, which lists every object's own digest. */
  backup: { id: string; sizeBytes: number; sha256: string } | null;
  /** Why the drill could not run or stopped (the message at most 2,000 characters); null when it ran to the end. `kind`: config, backup, repository, sandbox, restore, integrity, ... */
  error: { kind: string; message: string } | null;
  firedrillVersion: string;
  /** The machine that ran the drill. */
  host: string;
}

/** Receivers store and show these payloads: a check that prints a whole table must not make one of megabytes. */
const MAX_MESSAGE_LENGTH = 2000;
const MAX_FAILED_CHECKS = 50;

function objective(measuredSeconds: number | null, record: ObjectiveRecord | undefined): WebhookObjective {
  return { measuredSeconds, limitSeconds: record?.limitSeconds ?? null, status: record?.status ?? 'no objective' };
}

export function buildWebhookPayload(notification: Notification): WebhookPayload {
  const { report } = notification;
  const failed = report.checks.filter((check) => check.status === 'failed');
  return {
    schemaVersion: WEBHOOK_SCHEMA_VERSION,
    event: notification.event,
    drill: report.drill,
    runId: report.runId,
    status: report.status,
    previousStatus: notification.previousStatus ?? null,
    summary: truncate(report.summary, MAX_MESSAGE_LENGTH),
    startedAt: report.startedAt,
    finishedAt: report.finishedAt,
    durationMs: report.durationMs,
    rto: objective(report.measured.rtoSeconds, report.objectives.rto),
    rpo: objective(report.measured.rpoSeconds, report.objectives.rpo),
    failedChecks: failed.slice(0, MAX_FAILED_CHECKS).map(({ name, message }) => ({ name, message: truncate(message, MAX_MESSAGE_LENGTH) })),
    moreFailedChecks: Math.max(0, failed.length - MAX_FAILED_CHECKS),
    backup: report.backup ? { id: report.backup.id, sizeBytes: report.backup.sizeBytes, sha256: report.backup.sha256 } : null,
    error: report.error ? { kind: report.error.kind, message: truncate(report.error.message, MAX_MESSAGE_LENGTH) } : null,
    firedrillVersion: report.firedrillVersion,
    host: report.host,
  };
}

/** Slack's limits (https://api.slack.com/reference/block-kit/blocks): a longer text makes Slack refuse the whole message. */
const SLACK_LIMITS = { headerText: 150, sectionText: 3000, fieldText: 2000, fields: 10, fallbackText: 3000 } as const;

const SLACK_EMOJI: Record<string, string> = { FAILED: ':x:', ERROR: ':warning:', ABORTED: ':double_vertical_bar:', PASSED: ':white_check_mark:', RECOVERED: ':white_check_mark:' };

export interface SlackText {
  type: 'plain_text' | 'mrkdwn';
  text: string;
  emoji?: boolean;
}

export type SlackBlock =
  | { type: 'header'; text: SlackText }
  | { type: 'section'; text?: SlackText; fields?: SlackText[] }
  | { type: 'context'; elements: SlackText[] };

/** The body of `format: slack`: `text` is what notifications and old clients show, `blocks` the message itself. */
export interface SlackPayload {
  text: string;
  blocks: SlackBlock[];
}

export function buildSlackPayload(notification: Notification): SlackPayload {
  const { report } = notification;
  const word = statusWord(notification.event, report.status);
  const field = (label: string, value: string): SlackText => ({ type: 'mrkdwn', text: truncate(`*${label}*\n${slackEscape(value)}`, SLACK_LIMITS.fieldText) });
  const fields = [field('Status', notification.event === 'recovery' && notification.previousStatus ? `${word} (previous run: ${notification.previousStatus})` : word)];
  const rto = objectiveText(report.measured.rtoSeconds, report.objectives.rto);
  const rpo = objectiveText(report.measured.rpoSeconds, report.objectives.rpo);
  if (rto) fields.push(field('RTO', rto));
  if (rpo) fields.push(field('RPO', rpo));
  if (report.backup) fields.push(field('Backup', `${report.backup.id}, ${formatBytes(report.backup.sizeBytes)}`));

  const blocks: SlackBlock[] = [
    { type: 'header', text: { type: 'plain_text', text: truncate(`${SLACK_EMOJI[word] ?? ''} ${report.drill}: ${word}`.trim(), SLACK_LIMITS.headerText), emoji: true } },
    { type: 'section', text: { type: 'mrkdwn', text: truncate(slackEscape(report.summary), SLACK_LIMITS.sectionText) }, fields: fields.slice(0, SLACK_LIMITS.fields) },
  ];
  const failed = report.checks.filter((check) => check.status === 'failed');
  if (failed.length > 0) {
    const lines = failed.map((check) => `• *${slackEscape(check.name)}*: ${slackEscape(check.message.split('\n')[0] ?? '')}`);
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: truncate(`*Failed checks*\n${lines.join('\n')}`, SLACK_LIMITS.sectionText) } });
  }
  if (report.error) {
    const heading = `*Error* (${slackEscape(report.error.kind)}${report.error.phase ? `, in ${slackEscape(report.error.phase)}` : ''})`;
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: truncate(`${heading}\n${slackEscape(report.error.message)}`, SLACK_LIMITS.sectionText) } });
  }
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: slackEscape(`run ${report.runId} on ${report.host} · firedrill ${report.firedrillVersion}`) }] });

  return { text: truncate(`${word} ${report.drill}: ${headline(report)}`, SLACK_LIMITS.fallbackText), blocks };
}

/** Slack reads `&`, `<` and `>` as markup (`<!channel>`, links): a check message must not ping a channel. */
export function slackEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
