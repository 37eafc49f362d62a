import type { Notification } from './notifier.ts';
import type { Report } from '../report/report.ts';
import { formatDuration } from '../config/duration.ts';
import { formatBytes } from '../format-bytes.ts';
import { objectiveText, statusWord } from './notification-text.ts';

/**
 * The body of a notification email, as HTML and as plain text with the same
 * facts. The HTML is written for mail clients, not browsers: tables and
 * inline styles, no stylesheet, no script, no image or other external
 * resource, and every piece of text escaped. The full report travels as an
 * attachment; this is the summary someone on call reads first.
 */

const STATUS_COLOURS: Record<string, string> = { FAILED: '#b42318', ERROR: '#b54708', ABORTED: '#475467', PASSED: '#067647', RECOVERED: '#067647' };

/** Label and value rows, in the order both bodies show them; values are plain text. */
function facts(notification: Notification): [string, string][] {
  const { report } = notification;
  const rows: [string, string][] = [['Status', statusWord(notification.event, report.status)]];
  if (notification.event === 'recovery' && notification.previousStatus) rows.push(['Previous run', notification.previousStatus]);
  const rto = objectiveText(report.measured.rtoSeconds, report.objectives.rto);
  const rpo = objectiveText(report.measured.rpoSeconds, report.objectives.rpo);
  if (rto) rows.push(['RTO', rto]);
  if (rpo) rows.push(['RPO', rpo]);
  if (report.backup) {
    const backup = report.backup;
    rows.push(['Backup', `${backup.id}${backup.reused ? ' (drilled again)' : ''}, ${formatBytes(backup.sizeBytes)}, in repository "${backup.repository}"`]);
    rows.push(['Backup SHA-256', backup.sha256]);
  }
  rows.push(['Run', report.runId]);
  rows.push(['Started', `${report.startedAt} (took ${formatDuration(report.durationMs)})`]);
  rows.push(['Host', report.host]);
  rows.push(['firedrill', report.firedrillVersion]);
  return rows;
}

function failedChecks(report: Report): Report['checks'] {
  return report.checks.filter((check) => check.status === 'failed');
}

export function renderEmailText(notification: Notification, attachmentName: string): string {
  const { report } = notification;
  const lines = [`drill ${report.drill}: ${statusWord(notification.event, report.status)}`, '', report.summary, ''];
  if (report.error) {
    lines.push(`Error (${report.error.kind}${report.error.phase ? `, in ${report.error.phase}` : ''}):`);
    lines.push(...report.error.message.split('\n').map((line) => `  ${line}`), '');
  }
  const checks = failedChecks(report);
  if (checks.length > 0) {
    lines.push('Failed checks:');
    for (const check of checks) lines.push(`  - ${check.name} (${check.type}): ${check.message.split('\n').join('\n    ')}`);
    lines.push('');
  }
  for (const warning of report.warnings ?? []) lines.push(`Warning: ${warning}`);
  if (report.warnings?.length) lines.push('');
  const rows = facts(notification);
  const width = Math.max(...rows.map(([label]) => label.length));
  for (const [label, value] of rows) lines.push(`${`${label}:`.padEnd(width + 2)}${value}`);
  lines.push('', `The full report is attached (${attachmentName}).`);
  return `${lines.join('\n')}\n`;
}

export function renderEmailHtml(notification: Notification, attachmentName: string): string {
  const { report } = notification;
  const word = statusWord(notification.event, report.status);
  const colour = STATUS_COLOURS[word] ?? '#475467';
  const cell = 'padding:4px 12px 4px 0;vertical-align:top;font-size:14px;';
  const parts: string[] = [];
  parts.push(
    `<h1 style="margin:0 0 8px 0;font-size:20px;">drill ${escapeHtml(report.drill)}: ` +
      `<span style="color:${colour};">${escapeHtml(word)}</span></h1>`,
    `<p style="margin:0 0 16px 0;font-size:15px;">${escapeHtml(report.summary)}</p>`,
  );
  if (report.error) {
    parts.push(
      `<p style="margin:0 0 4px 0;font-size:14px;font-weight:bold;">Error (${escapeHtml(report.error.kind)}${report.error.phase ? `, in ${escapeHtml(report.error.phase)}` : ''})</p>`,
      `<pre style="margin:0 0 16px 0;padding:8px;background:#f2f4f7;font-size:13px;white-space:pre-wrap;">${escapeHtml(report.error.message)}</pre>`,
    );
  }
  const checks = failedChecks(report);
  if (checks.length > 0) {
    const rows = checks
      .map((check) => `<tr><td style="${cell}font-weight:bold;">${escapeHtml(check.name)}</td><td style="${cell}">${escapeHtml(check.type)}</td><td style="${cell}white-space:pre-wrap;">${escapeHtml(check.message)}</td></tr>`)
      .join('');
    parts.push(
      `<p style="margin:0 0 4px 0;font-size:14px;font-weight:bold;">Failed checks</p>`,
      `<table role="presentation" cellpadding="0" cellspacing="0" style="border-collapse:collapse;margin:0 0 16px 0;">${rows}</table>`,
    );
  }
  for (const warning of report.warnings ?? []) parts.push(`<p style="margin:0 0 8px 0;font-size:14px;color:#b54708;">Warning: ${escapeHtml(warning)}</p>`);
  const rows = facts(notification)
    .map(([label, value]) => `<tr><td style="${cell}color:#475467;">${escapeHtml(label)}</td><td style="${cell}">${escapeHtml(value)}</td></tr>`)
    .join('');
  parts.push(
    `<table role="presentation" cellpadding="0" cellspacing="0" style="border-collapse:collapse;margin:0 0 16px 0;">${rows}</table>`,
    `<p style="margin:0;font-size:13px;color:#475467;">The full report is attached (${escapeHtml(attachmentName)}).</p>`,
  );
  return (
    '<!DOCTYPE html><html><head><meta charset="utf-8"><title>' +
    escapeHtml(`${report.drill}: ${word}`) +
    '</title></head><body style="margin:0;padding:16px;font-family:Helvetica,Arial,sans-serif;color:#101828;">' +
    parts.join('\n') +
    '</body></html>\n'
  );
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}
