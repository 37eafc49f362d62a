import type { BackupFacts, ObjectiveRecord, PhaseRecord, Report, RtoTrend } from './report.ts';
import { formatBytes } from '../format-bytes.ts';
import { formatDuration } from '../config/duration.ts';
import { redactText } from '../redact.ts';
import { Markup, NOTHING, html, type Content } from '../markup.ts';
import { RTO_TREND_MINIMUM_RUNS } from './objectives.ts';

/**
 * A run's report as one self-contained HTML file for people: the outcome,
 * the objectives, where the time went, what every check found, the backup's
 * facts and how the drill has gone lately. Inline CSS and SVG only, no
 * script, font or image is loaded, so it reads the same offline, printed, or
 * opened from an email attachment. Metadata only, like the JSON report.
 */

/** Runs in the history strip: this run and the ones before it. */
export const HISTORY_STRIP_RUNS = 30;

export function renderHtmlReport(report: Report, history: Report[]): string {
  return htmlPage({
    title: `firedrill: ${report.drill} — ${report.status.toUpperCase()}`,
    schema: { name: 'firedrill-schema-version', version: report.schemaVersion },
    body: [
      banner(report),
      errorSection(report),
      objectivesSection(report),
      timelineSection(report),
      checksSection(report),
      backupSection(report),
      notificationsSection(report),
      retentionSection(report),
      historySection(report, history),
      html`<footer>firedrill ${report.firedrillVersion}, report schema ${report.schemaVersion}. This file loads nothing and runs no script.</footer>`,
    ],
  });
}

/**
 * One of firedrill's self-contained pages (the run report, the gameday
 * report): inline styles, no script, nothing loaded. The whole document is
 * redacted last: messages come from errors, servers and notifiers.
 */
export function htmlPage(page: { title: string; schema: { name: string; version: number }; body: Content }): string {
  // The Content-Security-Policy is a second guard: should escaping ever miss, the browser still runs no script and fetches nothing.
  const document = html`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="${page.schema.name}" content="${page.schema.version}">
<title>${page.title}</title>
<style>${new Markup(REPORT_STYLE)}</style>
</head>
<body>
<main>
${page.body}
</main>
</body>
</html>
`;
  return redactText(document.text);
}

export function section(testId: string, title: string, body: Content): Markup {
  return html`<section data-testid="${testId}"><h2>${title}</h2>${body}</section>`;
}

export function fact(label: string, value: Content, wide = false): Markup {
  return html`<div${wide ? new Markup(' class="wide"') : NOTHING}><dt>${label}</dt><dd>${value}</dd></div>`;
}

/** Columns of single words and numbers: wrapping them would only squeeze `fingerprint` into two lines. */
const UNWRAPPED_COLUMNS = new Set(['Type', 'Status', 'Duration', 'Event', 'Attempts', 'Engine', 'Limit', 'Measured']);

/** A table that becomes labelled blocks on a narrow screen, so no row runs off the side of a phone. */
export function table(className: string, headings: string[], rows: { cells: Content[]; attributes?: Markup }[]): Markup {
  const head = headings.map((heading) => html`<th>${heading}</th>`);
  const body = rows.map((row) => html`<tr${row.attributes ?? NOTHING}>${row.cells.map((content, index) => cell(headings[index] ?? '', content))}</tr>`);
  return html`<table class="stacking ${className}"><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
}

/** The heading rides along as `data-label`: a narrow screen shows it beside the value, with the table's head hidden. */
function cell(heading: string, content: Content): Markup {
  const unwrapped = UNWRAPPED_COLUMNS.has(heading) ? new Markup(' class="unwrapped"') : NOTHING;
  return html`<td data-label="${heading}"${unwrapped}><div>${content}</div></td>`;
}

const TONES: Record<string, string> = {
  passed: 'good', met: 'good', sent: 'good', ok: 'good',
  failed: 'bad', missed: 'bad', regressed: 'bad',
  error: 'warn', interrupted: 'warn',
};

/** A status word in the colour of what it means; unknown words are grey. */
function chip(status: string): Markup {
  return html`<span class="chip ${TONES[status] ?? 'neutral'}">${status}</span>`;
}

function code(text: string): Markup {
  return html`<code>${text}</code>`;
}

function seconds(value: number): string {
  return formatDuration(value * 1000);
}

// ---------------------------------------------------------------- sections

function banner(report: Report): Markup {
  return html`<header class="banner status-${report.status}" data-testid="status-banner" data-status="${report.status}">
<div class="banner-title"><span class="badge">${report.status.toUpperCase()}</span><h1>${report.drill}</h1></div>
<p class="summary">${report.summary}</p>
<dl class="facts">${fact('Run', code(report.runId))}${fact('Started (UTC)', report.startedAt)}${fact('Duration', formatDuration(report.durationMs))}${fact('Host', report.host)}${fact('firedrill', report.firedrillVersion)}</dl>
</header>`;
}

function errorSection(report: Report): Markup {
  if (!report.error) return NOTHING;
  const { kind, phase, message } = report.error;
  return html`<section class="error-box" data-testid="error"><h2>Error</h2><dl class="facts">${fact('Kind', kind)}${fact('Phase', phase ?? 'unknown')}${fact('Message', html`<span class="multiline">${message}</span>`, true)}</dl></section>`;
}

function objectivesSection(report: Report): Markup {
  const { measured } = report;
  const rows = [objectiveRow('RTO', report.objectives.rto, measured.rtoSeconds), objectiveRow('RPO', report.objectives.rpo, measured.rpoSeconds)];
  const ages = html`<dl class="facts">${fact('Backup age at the restore', measured.backupAgeSeconds === null ? 'not measured' : seconds(measured.backupAgeSeconds))}${fact(
    'Data age at the snapshot',
    measured.dataAgeAtSnapshotSeconds === null ? 'not measured (no freshness check)' : seconds(measured.dataAgeAtSnapshotSeconds),
  )}</dl>`;
  const warnings = report.warnings?.length ? html`<ul class="warnings" data-testid="warnings">${report.warnings.map((warning) => html`<li>${warning}</li>`)}</ul>` : NOTHING;
  return section('objectives', 'Objectives', [table('objectives-table', ['Objective', 'Limit', 'Measured', 'Status'], rows), ages, trendLine(report.trend?.rto), warnings]);
}

function objectiveRow(name: string, objective: ObjectiveRecord | undefined, measuredSeconds: number | null): { cells: Content[] } {
  // Without an objective the value is still worth seeing: it is what an objective would be set from.
  const value = objective?.measuredSeconds ?? measuredSeconds;
  return { cells: [html`<strong>${name}</strong>`, objective?.limit ?? 'none set', value === null ? 'not measured' : seconds(value), objective ? chip(objective.status) : chip('no objective')] };
}

function trendLine(trend: RtoTrend | undefined): Markup {
  if (!trend) return NOTHING;
  const open = html`<p class="trend" data-testid="rto-trend">RTO trend ${chip(trend.status)} `;
  if (trend.status === 'not measured') return html`${open}this run measured no RTO to compare.</p>`;
  if (trend.medianSeconds === null || trend.increasePercent === null) {
    return html`${open}${trend.basedOnRuns} passed runs before this one; a median needs at least ${RTO_TREND_MINIMUM_RUNS}.</p>`;
  }
  const change = `${trend.increasePercent > 0 ? '+' : ''}${trend.increasePercent.toFixed(0)}%`;
  const consequence = trend.action === 'fail' ? 'fails the run' : 'is a warning';
  return html`${open}this run ${change} against ${seconds(trend.medianSeconds)}, the median of the last ${trend.basedOnRuns} passed runs (more than +${trend.maxIncreasePercent}% ${consequence})</p>`;
}

const ROW_HEIGHT = 30;
const AXIS_HEIGHT = 24;

interface PlacedPhase {
  phase: PhaseRecord;
  /** Milliseconds from the start of the run. */
  offset: number;
  length: number;
}

function timelineSection(report: Report): Markup {
  if (report.phases.length === 0) return section('timeline', 'Timeline', html`<p class="empty">No phases were recorded: the run stopped before its first one.</p>`);
  const runStart = Date.parse(report.startedAt);
  const placed = report.phases.map((phase) => ({ phase, offset: Math.max(0, Date.parse(phase.startedAt) - runStart || 0), length: Math.max(0, phase.durationMs) }));
  // The run's own duration is the scale, unless a phase was recorded past it; never zero, which would divide by zero.
  const span = Math.max(1, report.durationMs, ...placed.map(({ offset, length }) => offset + length));
  const height = AXIS_HEIGHT + placed.length * ROW_HEIGHT;
  const stripes = placed.map((_, index) => (index % 2 === 0 ? html`<rect class="stripe" x="0" y="${AXIS_HEIGHT + index * ROW_HEIGHT}" width="100%" height="${ROW_HEIGHT}"/>` : NOTHING));
  const ticks = timeAxis(span, height);
  const rows = placed.map((entry, index) => phaseRow(entry, AXIS_HEIGHT + index * ROW_HEIGHT, span));
  return section('timeline', 'Timeline', html`<svg class="timeline" width="100%" height="${height}" role="img" aria-label="Phases of the run over time">${stripes}${ticks}${rows}</svg>`);
}

/** Grid lines at quarters of the run; on a narrow screen only the first, the middle and the last are labelled. */
function timeAxis(span: number, height: number): Markup[] {
  return [0, 0.25, 0.5, 0.75, 1].map((fraction) => {
    const anchor = fraction === 0 ? 'start' : fraction === 1 ? 'end' : 'middle';
    const minor = fraction === 0.25 || fraction === 0.75 ? new Markup(' minor') : NOTHING;
    const x = `${fraction * 100}%`;
    return html`<line class="grid" x1="${x}" x2="${x}" y1="${AXIS_HEIGHT - 6}" y2="${height}"/><text class="tick${minor}" x="${x}" y="12" text-anchor="${anchor}">${formatDuration(fraction * span)}</text>`;
  });
}

/** The name and duration on one line, the bar under it: at any width the label fits, however late in the run the bar is. */
function phaseRow({ phase, offset, length }: PlacedPhase, top: number, span: number): Markup {
  const percent = (milliseconds: number) => `${((100 * milliseconds) / span).toFixed(3)}%`;
  const depth = phaseDepth(phase.name);
  // A phase too short to see at this scale is drawn 3px wide, so every phase has a visible bar.
  const width = (100 * length) / span < 0.4 ? '3' : percent(length);
  const failed = phase.status === 'failed';
  const label = html`<text x="${4 + depth * 14}" y="${top + 13}">${phase.name}<tspan class="duration"> ${formatDuration(length)}${failed ? ' · failed' : ''}</tspan></text>`;
  const tooltip = html`<title>${phase.name}: from +${formatDuration(offset)}, took ${formatDuration(length)}${failed ? ', failed' : ''}</title>`;
  return html`<g class="phase depth-${depth}${failed ? new Markup(' failed') : NOTHING}">${label}<rect class="bar" data-phase="${phase.name}" x="${percent(offset)}" y="${top + 17}" width="${width}" height="8" rx="2">${tooltip}</rect></g>`;
}

/** `backup` 0, `backup.dump` 1, and a check's phase sits under `checks` whatever dots its name holds. */
function phaseDepth(name: string): number {
  return Math.min(3, name.startsWith('check:') ? 1 : name.split('.').length - 1);
}

function checksSection(report: Report): Markup {
  if (report.checks.length === 0) return section('checks', 'Checks', html`<p class="empty">This drill has no checks.</p>`);
  const counts = new Map<string, number>();
  for (const check of report.checks) counts.set(check.status, (counts.get(check.status) ?? 0) + 1);
  const tally = [...counts].map(([status, count]) => `${count} ${status}`).join(', ');
  const rows = report.checks.map((check) => ({
    attributes: html` class="check-${check.status}" data-check-status="${check.status}"`,
    cells: [html`<strong>${check.name}</strong>`, check.type, chip(check.status), formatDuration(check.durationMs), html`<span class="multiline">${check.message}</span>`],
  }));
  return section('checks', 'Checks', [html`<p class="muted">${tally}</p>`, table('checks-table', ['Check', 'Type', 'Status', 'Duration', 'Message'], rows)]);
}

function backupSection(report: Report): Markup {
  const { backup } = report;
  const facts = backup ? backupFactList(backup) : html`<p class="empty">No backup: the run stopped before one was taken or fetched.</p>`;
  const targets = backup?.targets.length ? targetsTable(backup) : NOTHING;
  return section('backup-facts', 'Backup', [facts, targets, restoreFacts(report)]);
}

function backupFactList(backup: BackupFacts): Markup {
  const origin = backup.madeElsewhere ? 'made elsewhere, not by firedrill' : backup.reused ? 'an existing backup, drilled again' : 'taken by this run';
  return html`<dl class="facts">${fact('Backup', code(backup.id))}${fact('Repository', backup.repository)}${fact('Origin', origin)}${fact('Created', backup.createdAt)}${fact(
    'Snapshot',
    backup.snapshotAt,
  )}${fact('Size', formatBytes(backup.sizeBytes))}${fact('Compression', compressionOf(backup))}${fact('Compression ratio', compressionRatio(backup) ?? 'unknown')}${fact(
    'Encrypted',
    encryptionOf(backup),
  )}${fact(backup.madeElsewhere ? 'SHA-256 of the object' : 'SHA-256 of the manifest', html`<code class="hash" data-testid="backup-sha256">${backup.sha256}</code>`, true)}</dl>`;
}

/** What the engines wrote over what is stored, for the objects whose written size is known. */
function compressionRatio(backup: BackupFacts): string | undefined {
  const known = backup.objects.filter((object) => object.contentSizeBytes !== undefined);
  const stored = known.reduce((sum, object) => sum + object.sizeBytes, 0);
  const content = known.reduce((sum, object) => sum + (object.contentSizeBytes ?? 0), 0);
  if (known.length === 0 || stored === 0) return undefined;
  return `${(content / stored).toFixed(1)}× (${formatBytes(content)} before compression)`;
}

function compressionOf(backup: BackupFacts): string {
  if (backup.madeElsewhere) return 'unknown (made elsewhere)';
  // An object without a compression was stored as written, by a firedrill from before it compressed.
  const kinds = new Set(backup.objects.map((object) => object.compression ?? 'none'));
  return kinds.size === 0 ? 'none' : [...kinds].join(', ');
}

function encryptionOf(backup: BackupFacts): string {
  const known = backup.objects.filter((object) => object.encrypted !== undefined);
  const encrypted = known.filter((object) => object.encrypted).length;
  if (known.length === 0) return 'unknown';
  if (encrypted === 0) return 'no';
  return encrypted === known.length ? 'yes' : `partly (${encrypted} of ${known.length} objects)`;
}

function targetsTable(backup: BackupFacts): Markup {
  const rows = backup.targets.map((target) => ({
    cells: [
      html`<strong>${target.name}</strong>`,
      target.engine,
      target.source ?? '—',
      [target.tool, target.toolVersion].filter(Boolean).join(' ') || '—',
      target.serverVersion ?? '—',
      target.files ? `${target.files.count} files, ${formatBytes(target.files.bytes)}` : '—',
      target.warnings?.count
        ? html`${target.warnings.count}<ul class="plain">${target.warnings.first.map((warning) => html`<li>${code(warning.path)}: ${warning.problem}</li>`)}</ul>`
        : 'none',
    ],
  }));
  return html`<h3>Targets</h3>${table('targets-table', ['Target', 'Engine', 'Source', 'Tool', 'Server', 'Files', 'Warnings'], rows)}`;
}

function restoreFacts(report: Report): Markup {
  const { restore } = report;
  if (!restore) return NOTHING;
  // Each target's own place when known; before targets were recorded, the first database target's sandbox.
  const into = restore.targets?.length
    ? fact('Restored', html`<ul class="plain">${restore.targets.map((target) => html`<li><strong>${target.name}</strong> into ${target.into}</li>`)}</ul>`, true)
    : restore.description
      ? fact('Restored into', restore.description, true)
      : NOTHING;
  return html`<h3>Restore</h3><dl class="facts" data-testid="restore">${fact('Sandbox', restore.sandbox)}${fact('Sandbox server', restore.serverVersion ?? 'unknown')}${restore.image ? fact('Image', restore.image) : NOTHING}${fact('Jobs', restore.jobs)}${into}</dl>`;
}

function notificationsSection(report: Report): Markup {
  if (!report.notifications?.length) return NOTHING;
  const rows = report.notifications.map((notification) => ({
    cells: [notification.notifier, notification.event, chip(notification.status), notification.attempts, html`<span class="multiline">${notification.message ?? '—'}</span>`],
  }));
  return section('notifications', 'Notifications', table('notifications-table', ['Notifier', 'Event', 'Status', 'Attempts', 'Message'], rows));
}

function retentionSection(report: Report): Markup {
  if (!report.retention) return NOTHING;
  const { policy, removed, problems } = report.retention;
  const list = (items: string[]) => html`<ul class="plain">${items.map((item) => html`<li>${item}</li>`)}</ul>`;
  return section(
    'retention',
    'Retention',
    html`<dl class="facts">${fact('Policy', policy, true)}${fact('Removed', removed.length ? list(removed) : 'nothing', true)}${problems.length ? fact('Problems', list(problems), true) : NOTHING}</dl>`,
  );
}

const STEP = 16;
const SQUARE = 12;
const SPARK_HEIGHT = 48;

function historySection(report: Report, history: Report[]): Markup {
  const runs = historyRuns(report, history);
  const width = runs.length * STEP;
  const squares = runs.map((run, index) => {
    const isCurrent = run === report;
    const rto = run.measured.rtoSeconds === null ? '' : `, RTO ${seconds(run.measured.rtoSeconds)}`;
    const tooltip = html`<title>${run.runId}: ${run.status.toUpperCase()}, started ${run.startedAt}${rto}${isCurrent ? ' (this run)' : ''}</title>`;
    return html`<rect class="run run-${run.status}${isCurrent ? new Markup(' current') : NOTHING}" x="${index * STEP + 2}" y="2" width="${SQUARE}" height="${SQUARE}" rx="2">${tooltip}</rect>`;
  });
  const legend = ['passed', 'failed', 'error', 'aborted'].map((status) => html`<span class="key run-${status}"></span>${status} `);
  const intro = runs.length === 1 ? 'This is the first recorded run of this drill.' : `The last ${runs.length} runs, oldest first; this run is outlined.`;
  return section('history', 'History', [
    html`<p class="muted">${intro}</p><svg class="strip" width="${width}" height="${SQUARE + 4}" viewBox="0 0 ${width} ${SQUARE + 4}" role="img" aria-label="Outcome of each run">${squares}</svg><p class="legend">${legend}</p>`,
    sparkline(runs, report),
  ]);
}

/** This drill's earlier runs, oldest first, and this one last. `history` is newest first and may hold this run or a run twice. */
function historyRuns(report: Report, history: Report[]): Report[] {
  const seen = new Set([report.runId]);
  const earlier: Report[] = [];
  for (const run of history) {
    if (seen.has(run.runId)) continue;
    seen.add(run.runId);
    earlier.push(run);
  }
  return [...earlier.slice(0, HISTORY_STRIP_RUNS - 1).reverse(), report];
}

/** RTO over the runs that measured one, on the same horizontal scale as the squares above it. */
function sparkline(runs: Report[], report: Report): Markup {
  const points = runs.flatMap((run, index) => (run.measured.rtoSeconds === null ? [] : [{ run, index, rto: run.measured.rtoSeconds }]));
  if (points.length === 0) return html`<p class="empty">No run here measured an RTO, so there is no RTO trend to draw.</p>`;
  const highest = Math.max(...points.map((point) => point.rto));
  const lowest = Math.min(...points.map((point) => point.rto));
  // Scaled from the lowest to the highest RTO, as sparklines are: the shape of the trend, with the numbers written below.
  const range = highest - lowest;
  const place = (index: number, rto: number) => ({ x: index * STEP + STEP / 2, y: 6 + (range === 0 ? 0.5 : 1 - (rto - lowest) / range) * (SPARK_HEIGHT - 12) });
  const coordinates = points.map((point) => ({ ...point, ...place(point.index, point.rto) }));
  const line = coordinates.length > 1 ? html`<polyline points="${coordinates.map(({ x, y }) => `${x},${y.toFixed(1)}`).join(' ')}"/>` : NOTHING;
  const dots = coordinates.map(
    ({ run, x, y, rto }) => html`<circle class="${run === report ? 'current' : 'point'}" cx="${x}" cy="${y.toFixed(1)}" r="${run === report ? 4 : 2}"><title>${run.runId}: RTO ${seconds(rto)}</title></circle>`,
  );
  const width = runs.length * STEP;
  const thisRun = report.measured.rtoSeconds === null ? 'not measured' : seconds(report.measured.rtoSeconds);
  const spread = points.length === 1 ? `the only run that measured one took ${seconds(highest)}` : `lowest ${seconds(lowest)}, highest ${seconds(highest)} over ${points.length} runs`;
  return html`<svg class="sparkline" data-testid="rto-sparkline" width="${width}" height="${SPARK_HEIGHT}" viewBox="0 0 ${width} ${SPARK_HEIGHT}" role="img" aria-label="RTO per run">${line}${dots}</svg>
<p class="muted">RTO: this run ${thisRun}; ${spread}.</p>`;
}

// Colours: passed green, failed red, error orange, aborted grey, in the banner, the chips and the history alike.
/** The stylesheet of firedrill's HTML pages (the run report, the gameday report). */
const REPORT_STYLE = `
*{box-sizing:border-box}
body{margin:0;background:#f4f6f8;color:#1f2328;font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1120px;margin:0 auto;padding:24px}
h1{margin:0;font-size:24px;line-height:1.25;overflow-wrap:anywhere}
h2{margin:0 0 12px;font-size:17px}
h3{margin:20px 0 8px;font-size:14px;color:#424a53}
section{background:#fff;border:1px solid #d8dee4;border-radius:8px;padding:16px 20px;margin:0 0 16px}
code{font:12.5px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;overflow-wrap:anywhere}
.banner{color:#fff;border-radius:8px;padding:18px 22px;margin:0 0 16px;print-color-adjust:exact;-webkit-print-color-adjust:exact}
.status-passed{background:#1a7f37}.status-failed{background:#c4262e}.status-error{background:#c4560c}.status-aborted{background:#5c6670}
.banner-title{display:flex;flex-wrap:wrap;align-items:center;gap:8px 12px}
.badge{padding:2px 10px;border-radius:999px;background:rgba(255,255,255,.22);font-weight:700;letter-spacing:.06em;font-size:13px}
.summary{margin:10px 0 14px;font-size:15px;overflow-wrap:anywhere}
.banner dt{color:rgba(255,255,255,.78)}
.banner .facts{display:flex;flex-wrap:wrap;gap:10px 36px}
.facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(190px,1fr));gap:10px 24px;margin:0}
.facts>div{min-width:0}.facts .wide{grid-column:1/-1}
dt{font-size:11.5px;text-transform:uppercase;letter-spacing:.04em;color:#59636e}
dd{margin:0;overflow-wrap:anywhere}
.hash{font-size:13px}
table{width:100%;border-collapse:collapse}
th,td{text-align:left;vertical-align:top;padding:7px 10px;border-bottom:1px solid #e6e9ed}
th{font-size:12px;color:#59636e;font-weight:600;border-bottom-color:#d0d7de;white-space:nowrap}
td>div{overflow-wrap:anywhere}td:first-child>div{overflow-wrap:break-word}td.unwrapped{white-space:nowrap}tr.check-failed{background:#fff5f5}.multiline{white-space:pre-wrap}
.chip{display:inline-block;padding:0 8px;border-radius:999px;font-size:12px;font-weight:600;line-height:20px;white-space:nowrap;print-color-adjust:exact;-webkit-print-color-adjust:exact}
.good{background:#dafbe1;color:#116329}.bad{background:#ffebe9;color:#a40e26}.warn{background:#fff1e5;color:#953800}.neutral{background:#eaeef2;color:#424a53}
.muted,.legend{color:#59636e;margin:0 0 8px}.legend{margin-top:6px;font-size:12.5px}.empty{color:#59636e;font-style:italic;margin:0}
.trend{margin:14px 0 0}.warnings{margin:14px 0 0;padding:8px 12px 8px 28px;background:#fff8c5;border-left:4px solid #d4a72c;border-radius:4px}
.error-box{border-color:#f4b4b4;background:#fff8f8}ul.plain{margin:0;padding-left:18px}.objectives-table{margin-bottom:14px}
svg text{font-size:12px;fill:#1f2328}
.timeline{display:block;overflow:hidden}
.timeline .tick{font-size:11px;fill:#6e7781}.timeline .grid{stroke:#eaeef2}.timeline .duration{fill:#59636e}.timeline .stripe{fill:#f6f8fa}
.bar{fill:#3b6fb6}.depth-1 .bar{fill:#7ea3d9}.depth-2 .bar,.depth-3 .bar{fill:#b3c9ea}
.depth-0 text{font-weight:600}.depth-0 .duration{font-weight:400}
.failed .bar{fill:#cf222e}.failed.depth-1 .bar,.failed.depth-2 .bar,.failed.depth-3 .bar{fill:#ef7b81}.failed text{fill:#a40e26}
.strip,.sparkline{display:block;max-width:100%;height:auto}.sparkline{margin-top:6px}
.run-passed{fill:#2da44e;background:#2da44e}.run-failed{fill:#cf222e;background:#cf222e}.run-error{fill:#e16f24;background:#e16f24}.run-aborted{fill:#8c959f;background:#8c959f}
.run.current{stroke:#1f2328;stroke-width:2}
.key{display:inline-block;width:10px;height:10px;border-radius:2px;margin:0 4px 0 10px;print-color-adjust:exact;-webkit-print-color-adjust:exact}.key:first-child{margin-left:0}
.sparkline polyline{fill:none;stroke:#3b6fb6;stroke-width:1.5}.sparkline .point{fill:#3b6fb6}.sparkline .current{fill:#fff;stroke:#1f2328;stroke-width:2}
footer{color:#6e7781;font-size:12px;margin:8px 0 0}
@media (max-width:640px){
main{padding:12px}section{padding:12px 14px}.timeline .minor{display:none}
table.stacking thead{display:none}
table.stacking tr{display:block;padding:8px 0;border-bottom:1px solid #e6e9ed}
table.stacking td{display:grid;grid-template-columns:6.5em minmax(0,1fr);gap:8px;padding:2px 0;border:0}
table.stacking td::before{content:attr(data-label);font-size:12px;color:#59636e}
}
@media print{
body{background:#fff}
main{max-width:none;padding:0}
section{break-inside:avoid;border-color:#ccc}
}
`;
