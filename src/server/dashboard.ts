import type { ObjectiveRecord, Report } from '../report/report.ts';
import { formatDuration } from '../config/duration.ts';
import { FIREDRILL_VERSION } from '../version.ts';
import { reportPageLink } from './api.ts';
import { DASHBOARD_STYLE } from './dashboard-style.ts';
import { html, Markup, NOTHING, type Content } from '../markup.ts';
import type { DrillOverview } from './server-context.ts';

/**
 * The dashboard at `/`: one table row per configured drill, rendered on the
 * server. No script at all, inline CSS and SVG only, so it works in any
 * browser, in a terminal browser, and behind a strict proxy; it reloads
 * itself every minute with a meta refresh. Every value is escaped.
 */

/** Runs in each drill's trend: the pass/fail squares and the RTO sparkline. */
export const DASHBOARD_TREND_RUNS = 10;
export const REFRESH_SECONDS = 60;

export interface DashboardData {
  drills: DrillOverview[];
  ready: boolean;
  runningCount: number;
  queueLength: number;
  now: Date;
}

export function renderDashboard(data: DashboardData): string {
  return html`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta http-equiv="refresh" content="${REFRESH_SECONDS}">
<title>firedrill: ${failingCount(data.drills) > 0 ? `${failingCount(data.drills)} failing` : 'drills'}</title>
<style>${new Markup(DASHBOARD_STYLE)}</style>
</head>
<body>
<main>
<header><h1>firedrill</h1><p class="muted" data-testid="overview">${overview(data)}</p></header>
${drillsSection(data)}
${problemsSection(data.drills)}
<footer>firedrill ${FIREDRILL_VERSION}. Rendered ${formatInZone(data.now, 'UTC')} UTC; this page reloads every ${REFRESH_SECONDS} seconds and runs no script. Also: <a href="/api/drills">/api/drills</a>, <a href="/metrics">/metrics</a>.</footer>
</main>
</body>
</html>
`.text;
}

function failingCount(drills: DrillOverview[]): number {
  return drills.filter(({ recent }) => recent[0] !== undefined && recent[0].status !== 'passed').length;
}

function overview(data: DashboardData): string {
  const passed = data.drills.filter(({ recent }) => recent[0]?.status === 'passed').length;
  const never = data.drills.filter(({ recent }) => recent.length === 0).length;
  const scheduler = data.ready ? 'scheduler ready' : 'scheduler starting';
  return `${data.drills.length} drills: ${passed} passed, ${failingCount(data.drills)} not passing, ${never} never run · ${data.runningCount} running, ${data.queueLength} queued · ${scheduler}`;
}

const HEADINGS = ['Drill', 'Schedule', 'Next run', 'Activity', 'Last status', 'Last run', 'RTO', 'RPO', 'Trend', 'Report'];

function drillsSection(data: DashboardData): Markup {
  if (data.drills.length === 0) return html`<section data-testid="drills"><h2>Drills</h2><p class="empty">No drills are configured: add one to the drills directory and reload (SIGHUP).</p></section>`;
  const rows = data.drills.map((entry) => drillRow(entry, data.now));
  const head = HEADINGS.map((heading) => html`<th>${heading}</th>`);
  return html`<section data-testid="drills"><h2>Drills</h2><table class="stacking"><thead><tr>${head}</tr></thead><tbody>${rows}</tbody></table></section>`;
}

function drillRow({ drill, scheduled, recent }: DrillOverview, now: Date): Markup {
  const latest = recent[0];
  const status = latest?.status ?? 'never run';
  const activity = scheduled?.activity ?? 'idle';
  const timezone = scheduled?.timezone ?? drill.timezone ?? 'UTC';
  const schedule = scheduled?.schedule ?? drill.schedule;
  const cells: Content[] = [
    html`<strong>${drill.name}</strong>${drill.description ? html`<span class="note">${drill.description}</span>` : NOTHING}`,
    schedule ? html`<code>${schedule}</code><span class="note">${timezone}</span>` : html`<span class="muted">on demand only</span>`,
    scheduled?.nextRunAt ? html`${timeIn(scheduled.nextRunAt, timezone)}<span class="note">${relative(scheduled.nextRunAt, now)} (${timezone})</span>` : html`<span class="muted">—</span>`,
    html`<span class="activity activity-${activity}" data-testid="activity">${activity}</span>${activity !== 'idle' && scheduled?.runId ? html`<span class="note"><code>${scheduled.runId}</code></span>` : NOTHING}`,
    html`<span class="status status-${status.replace(' ', '-')}" data-testid="last-status">${status}</span>`,
    latest ? html`${timeIn(new Date(latest.startedAt), 'UTC')} UTC<span class="note">${relative(new Date(latest.startedAt), now)}, took ${formatDuration(latest.durationMs)}</span>` : html`<span class="muted">—</span>`,
    latest ? objectiveCell(latest.objectives.rto, latest.measured.rtoSeconds, drill.objectives.rto) : html`<span class="muted">—</span>`,
    latest ? objectiveCell(latest.objectives.rpo, latest.measured.rpoSeconds, drill.objectives.rpo) : html`<span class="muted">—</span>`,
    trend(recent.slice(0, DASHBOARD_TREND_RUNS)),
    latest ? html`<a href="${reportPageLink(drill.name, latest.runId)}" data-testid="report-link">report</a>` : html`<span class="muted">—</span>`,
  ];
  const tds = cells.map((content, index) => html`<td data-label="${HEADINGS[index]}"><div>${content}</div></td>`);
  return html`<tr data-drill="${drill.name}" data-status="${status}" data-activity="${activity}">${tds}</tr>`;
}

/** The measured value against the limit the run was judged by (or, when it had none, the one configured now). */
function objectiveCell(record: ObjectiveRecord | undefined, measuredSeconds: number | null, configuredMs: number | undefined): Markup {
  const value = record?.measuredSeconds ?? measuredSeconds;
  const limit = record?.limit ?? (configuredMs === undefined ? undefined : formatDuration(configuredMs));
  const shown = value === null ? 'not measured' : formatDuration(value * 1000);
  const verdict = record ? html` <span class="objective objective-${record.status.replace(' ', '-')}">${record.status}</span>` : NOTHING;
  return html`${shown}${limit ? html`<span class="note">objective ${limit}</span>` : NOTHING}${verdict}`;
}

const STEP = 14;
const SQUARE = 10;
const SPARK_HEIGHT = 22;

/** Oldest to newest, left to right: a square per run in its status's colour, and the RTO of each run that measured one, as a line under them. */
function trend(newestFirst: Report[]): Markup {
  if (newestFirst.length === 0) return html`<span class="muted">—</span>`;
  const runs = [...newestFirst].reverse();
  const width = runs.length * STEP;
  const squares = runs.map(
    (run, index) =>
      html`<rect class="run run-${run.status}" x="${index * STEP + 2}" y="2" width="${SQUARE}" height="${SQUARE}" rx="2"><title>${run.runId}: ${run.status}${run.measured.rtoSeconds === null ? '' : `, RTO ${formatDuration(run.measured.rtoSeconds * 1000)}`}</title></rect>`,
  );
  const points = runs.flatMap((run, index) => (run.measured.rtoSeconds === null ? [] : [{ x: index * STEP + STEP / 2, rto: run.measured.rtoSeconds }]));
  const highest = Math.max(...points.map((point) => point.rto));
  const lowest = Math.min(...points.map((point) => point.rto));
  const y = (rto: number) => (SQUARE + 6 + (highest === lowest ? SPARK_HEIGHT / 2 : ((highest - rto) / (highest - lowest)) * (SPARK_HEIGHT - 4) + 2)).toFixed(1);
  const line = points.length >= 2 ? html`<polyline points="${points.map((point) => `${point.x},${y(point.rto)}`).join(' ')}"/>` : NOTHING;
  const height = SQUARE + 6 + SPARK_HEIGHT;
  const label = `The last ${runs.length} runs, oldest first, and their RTO`;
  return html`<svg class="trend" data-testid="trend" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${label}">${squares}${line}</svg>`;
}

function problemsSection(drills: DrillOverview[]): Markup {
  const problems = drills.flatMap(({ drill, problems: found }) => found.map((problem) => ({ drill: drill.name, problem })));
  if (problems.length === 0) return NOTHING;
  return html`<section data-testid="problems"><h2>Problems reading history</h2><ul>${problems.map(({ drill, problem }) => html`<li><strong>${drill}</strong>: ${problem}</li>`)}</ul></section>`;
}

function timeIn(date: Date, timeZone: string): Markup {
  return html`<time datetime="${date.toISOString()}">${formatInZone(date, timeZone)}</time>`;
}

/** `2026-11-27 03:00` as a clock in that timezone shows it (UTC for a name this runtime does not know). */
export function formatInZone(date: Date, timeZone: string): string {
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  } catch {
    return formatInZone(date, 'UTC');
  }
  const part = Object.fromEntries(format.formatToParts(date).map(({ type, value }) => [type, value]));
  return `${part['year']}-${part['month']}-${part['day']} ${part['hour']}:${part['minute']}`;
}

/** `in 5h 2m`, `3d 4h ago`: to the minute, which is what a schedule and a glance need. */
export function relative(date: Date, now: Date): string {
  const difference = date.getTime() - now.getTime();
  if (Math.abs(difference) < 60_000) return difference >= 0 ? 'within a minute' : 'just now';
  const amount = formatDuration(Math.round(Math.abs(difference) / 60_000) * 60_000);
  return difference > 0 ? `in ${amount}` : `${amount} ago`;
}
