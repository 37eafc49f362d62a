import type { DefectResult, GamedayReport } from '../gameday/gameday.ts';
import { Markup, NOTHING, html } from '../markup.ts';
import { fact, htmlPage, section, table } from './html-report.ts';

/**
 * A gameday's result as one self-contained HTML page, in the style of the
 * run report: the detection score in the banner (green when every
 * applicable defect was caught, red when one was missed, orange when only
 * inconclusive results stood in the way), every defect with what caught it,
 * and the findings with what to add. No script, nothing loaded.
 */
export function renderGamedayHtml(report: GamedayReport): string {
  const { caught, applicable, inconclusive } = report.score;
  const missed = applicable - caught - inconclusive;
  const status = missed > 0 ? 'failed' : inconclusive > 0 ? 'error' : 'passed';
  const headline = `${caught} of ${applicable} defects caught`;
  return htmlPage({
    title: `firedrill gameday: ${report.drill} — ${headline}`,
    schema: { name: 'firedrill-gameday-schema-version', version: report.schemaVersion },
    body: [
      html`<header class="banner status-${status}" data-testid="score-banner" data-status="${status}">
<div class="banner-title"><span class="badge">GAMEDAY</span><h1>${report.drill}: ${headline}</h1></div>
<p class="summary">${summaryLine(missed, inconclusive)}</p>
<dl class="facts">${fact('Backup', report.backupId)}${fact('Started (UTC)', report.startedAt)}${fact('Undamaged copy', report.baseline.summary)}</dl>
</header>`,
      section('defects', 'Defects', table('defects-table', ['Defect', 'Result', 'What was broken', 'Caught by, or why not'], report.defects.map(defectRow))),
      findingsSection(report.defects),
      html`<footer>firedrill gameday, schema ${report.schemaVersion}. Every defect was made on a throwaway copy; the backup itself was only read. This file loads nothing and runs no script.</footer>`,
    ],
  });
}

function summaryLine(missed: number, inconclusive: number): string {
  if (missed > 0) return `${missed} defect${missed === 1 ? '' : 's'} went unnoticed: this drill would pass on a broken backup. The findings below say what to add.`;
  if (inconclusive > 0) return `Nothing was missed, but ${inconclusive} result${inconclusive === 1 ? ' was' : 's were'} inconclusive: run the gameday again.`;
  return 'The drill went red on every defect that applies to it.';
}

function defectRow(result: DefectResult): { cells: (Markup | string)[]; attributes: Markup } {
  const [word, tone, detail] = !result.applicable
    ? ['n/a', 'neutral', result.notApplicableBecause ?? '']
    : result.inconclusive
      ? ['inconclusive', 'warn', result.suggestion ?? '']
      : result.caught
        ? ['caught', 'good', result.caughtBy ?? '']
        : ['NOT CAUGHT', 'bad', result.suggestion ?? ''];
  return {
    cells: [html`<code>${result.id}</code>`, html`<span class="chip ${tone}">${word}</span>`, result.description, detail],
    attributes: html` data-defect="${result.id}" data-result="${word}"${word === 'NOT CAUGHT' ? new Markup(' class="check-failed"') : NOTHING}`,
  };
}

function findingsSection(defects: DefectResult[]): Markup {
  const findings = defects.filter((result) => result.applicable && !result.caught && !result.inconclusive);
  if (findings.length === 0) return NOTHING;
  return section('findings', 'Findings', html`<ul class="plain">${findings.map((finding) => html`<li><strong>${finding.id}</strong>: ${finding.suggestion ?? ''}</li>`)}</ul>`);
}
