import type { Report } from './report.ts';
import { redactText } from '../redact.ts';
import { RTO_TREND_MINIMUM_RUNS } from './objectives.ts';

/**
 * Reports as JUnit XML, the format CI systems (GitHub Actions, GitLab CI,
 * Jenkins) show as test results: one test suite per drill, and in it one
 * test case for the run itself (backup and restore: an error when the drill
 * could not run, a failure when the backup did not restore), one per check
 * and one per objective. A check that never ran is skipped, with the reason;
 * an objective that was not measured is skipped too. Metadata only, like the
 * report: names, durations, messages.
 */

export function renderJunit(reports: Report[]): string {
  const totals = { tests: 0, failures: 0, errors: 0, skipped: 0, seconds: 0 };
  const suites = reports.map((report) => {
    const cases = testCases(report);
    const counts = {
      tests: cases.length,
      failures: cases.filter((entry) => entry.outcome?.kind === 'failure').length,
      errors: cases.filter((entry) => entry.outcome?.kind === 'error').length,
      skipped: cases.filter((entry) => entry.outcome?.kind === 'skipped').length,
    };
    totals.tests += counts.tests;
    totals.failures += counts.failures;
    totals.errors += counts.errors;
    totals.skipped += counts.skipped;
    totals.seconds += report.durationMs / 1000;
    const properties = [
      ['runId', report.runId],
      ['status', report.status],
      ['summary', report.summary],
      ...(report.backup ? [['backupId', report.backup.id] as const, ['backupSha256', report.backup.sha256] as const] : []),
      ...(report.measured.rtoSeconds !== null ? [['rtoSeconds', String(report.measured.rtoSeconds)] as const] : []),
      ...(report.measured.rpoSeconds !== null ? [['rpoSeconds', String(report.measured.rpoSeconds)] as const] : []),
    ];
    return [
      `  <testsuite name="${xml(report.drill)}" tests="${counts.tests}" failures="${counts.failures}" errors="${counts.errors}" skipped="${counts.skipped}" ` +
        `time="${seconds(report.durationMs)}" timestamp="${xml(report.startedAt)}" hostname="${xml(report.host)}">`,
      '    <properties>',
      ...properties.map(([name, value]) => `      <property name="${xml(name)}" value="${xml(value)}"/>`),
      '    </properties>',
      ...cases.map((entry) => renderCase(report.drill, entry)),
      '  </testsuite>',
    ].join('\n');
  });
  const text = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="firedrill" tests="${totals.tests}" failures="${totals.failures}" errors="${totals.errors}" skipped="${totals.skipped}" time="${totals.seconds.toFixed(3)}">`,
    ...suites,
    '</testsuites>',
    '',
  ].join('\n');
  // Messages come from errors and servers: any secret that slipped into one is scrubbed, as in the JSON report.
  return redactText(text);
}

interface TestCase {
  name: string;
  milliseconds: number;
  outcome?: { kind: 'failure' | 'error' | 'skipped'; message: string; type?: string } | undefined;
  /** Shown by CI systems with the case (a warning that did not fail it). */
  output?: string;
}

function testCases(report: Report): TestCase[] {
  const restorePhase = report.phases.find((phase) => phase.name === 'restore');
  const backupPhase = report.phases.find((phase) => phase.name === 'backup');
  const runCase: TestCase = {
    name: 'backup and restore',
    milliseconds: (backupPhase?.durationMs ?? 0) + (restorePhase?.durationMs ?? 0),
  };
  if (report.error) {
    // An error says nothing about the backup (the drill could not run); a failure does (it did not restore).
    const kind = report.status === 'failed' ? 'failure' : 'error';
    runCase.outcome = { kind, type: report.error.kind, message: `${report.error.phase ? `in ${report.error.phase}: ` : ''}${report.error.message}` };
  }
  const checks: TestCase[] = report.checks.map((check) => ({
    name: `check: ${check.name}`,
    milliseconds: check.durationMs,
    ...(check.status === 'passed'
      ? {}
      : check.status === 'failed'
        ? { outcome: { kind: 'failure' as const, type: check.type, message: check.message } }
        : { outcome: { kind: 'skipped' as const, message: check.message || `not run (${check.status})` } }),
  }));
  const objectives: TestCase[] = Object.entries(report.objectives).map(([name, objective]) => ({
    name: `objective: ${name.toUpperCase()} within ${objective.limit}`,
    milliseconds: 0,
    ...(objective.status === 'met'
      ? {}
      : objective.status === 'missed'
        ? { outcome: { kind: 'failure' as const, type: 'objective', message: `${name.toUpperCase()} ${objective.measuredSeconds ?? '?'}s exceeds ${objective.limit}` } }
        : { outcome: { kind: 'skipped' as const, message: `${name.toUpperCase()} was not measured` } }),
  }));
  const trend = report.trend?.rto;
  if (trend && trend.status !== 'not measured') {
    const regressed = trend.status === 'regressed';
    const message = `RTO ${report.measured.rtoSeconds ?? '?'}s is ${trend.increasePercent}% above its median of ${trend.medianSeconds}s over the last ${trend.basedOnRuns} passed runs`;
    objectives.push({
      name: `objective: RTO within ${trend.maxIncreasePercent}% of its median`,
      milliseconds: 0,
      ...(trend.status === 'insufficient history'
        ? { outcome: { kind: 'skipped' as const, message: `not judged: ${trend.basedOnRuns} earlier passed runs, at least ${RTO_TREND_MINIMUM_RUNS} are needed` } }
        : regressed
          ? { outcome: trend.action === 'fail' ? { kind: 'failure' as const, type: 'objective', message } : undefined, output: `warning: ${message}` }
          : {}),
    });
  }
  return [runCase, ...checks, ...objectives];
}

function renderCase(drill: string, entry: TestCase): string {
  const open = `    <testcase classname="firedrill.${xml(drill)}" name="${xml(entry.name)}" time="${seconds(entry.milliseconds)}"`;
  if (!entry.outcome && entry.output === undefined) return `${open}/>`;
  const elements: string[] = [];
  if (entry.outcome) {
    const { kind, message, type } = entry.outcome;
    const firstLine = message.split('\n')[0] ?? '';
    elements.push(
      kind === 'skipped'
        ? `      <skipped message="${xml(firstLine)}"/>`
        : `      <${kind} message="${xml(firstLine)}"${type ? ` type="${xml(type)}"` : ''}>${xml(message)}</${kind}>`,
    );
  }
  if (entry.output !== undefined) elements.push(`      <system-out>${xml(entry.output)}</system-out>`);
  return [`${open}>`, ...elements, '    </testcase>'].join('\n');
}

function seconds(milliseconds: number): string {
  return (milliseconds / 1000).toFixed(3);
}

/** Escaped for attributes and text; characters XML 1.0 cannot hold at all (most control characters) are dropped. */
function xml(text: string): string {
  return text
    .replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '')
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&apos;');
}
