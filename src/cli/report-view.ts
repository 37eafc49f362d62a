import type { Report } from '../report/report.ts';
import { formatDuration } from '../config/duration.ts';
import { RTO_TREND_MINIMUM_RUNS } from '../report/objectives.ts';
import { formatBytes, formatTime, renderTable } from './output.ts';

/**
 * The terminal summary of one report: what happened first (the error, or the
 * one-line summary), then the backup, the phases, the checks and the
 * objectives, leaving out tables with nothing to say.
 */
export function renderReport(report: Report, reportPath?: string): string {
  const lines: string[] = [];
  lines.push(`drill ${report.drill}: ${report.status.toUpperCase()}  (run ${report.runId}, ${formatDuration(report.durationMs)})`);
  if (report.error) {
    lines.push(`  ${report.error.kind === 'aborted' ? 'stopped' : 'error'} in ${report.error.phase ?? 'the drill'} (${report.error.kind}):`);
    lines.push(...report.error.message.split('\n').map((line) => `    ${line}`));
  } else {
    lines.push(`  ${report.summary}`);
  }
  if (report.backup) {
    const backup = report.backup;
    const target = backup.targets[0];
    const made = target?.tool ? `, ${target.tool} ${target.toolVersion} from PostgreSQL ${target.serverVersion}` : '';
    if (backup.madeElsewhere) {
      lines.push('', `  backup   ${backup.id} (made elsewhere): ${formatBytes(backup.sizeBytes)}${made}, written ${formatTime(backup.snapshotAt)}`);
      lines.push(`           in repository "${backup.repository}", SHA-256 ${backup.sha256}`);
    } else {
      lines.push('', `  backup   ${backup.id}${backup.reused ? ' (drilled again)' : ''}: ${formatBytes(backup.sizeBytes)}${made}, snapshot ${formatTime(backup.snapshotAt)}`);
      lines.push(`           in repository "${backup.repository}", manifest SHA-256 ${backup.sha256}`);
    }
  }
  // One line per target when there is more to say than the backup line did: several targets, or files.
  const targets = report.backup?.targets ?? [];
  if (targets.length > 1 || targets.some((target) => target.files)) {
    for (const target of targets) {
      const what = target.files ? `${target.files.count} files, ${formatBytes(target.files.bytes)}` : [target.tool, target.toolVersion].filter(Boolean).join(' ');
      const into = report.restore?.targets?.find((restored) => restored.name === target.name)?.into;
      lines.push(`  target   ${target.name} (${target.engine}): ${target.source ?? ''}${what ? `; ${what}` : ''}${into ? `; restored into ${into}` : ''}`);
      if (target.warnings) {
        lines.push(`           ${target.warnings.count} warning${target.warnings.count === 1 ? '' : 's'} while backing up:`);
        for (const warning of target.warnings.first.slice(0, 5)) lines.push(`             ${warning.path}: ${warning.problem}`);
        if (target.warnings.count > 5) lines.push(`             (${target.warnings.count - 5} more in the report)`);
      }
    }
  }
  if (report.restore?.description) lines.push(`  sandbox  ${report.restore.description}`);

  lines.push('', renderTable(['PHASE', 'DURATION', 'STATUS'], report.phases.map((phase) => [phaseLabel(phase.name), formatDuration(phase.durationMs), phase.status]), '  '));
  if (report.checks.length > 0 && report.checks.every((check) => check.status === 'skipped')) {
    lines.push('', `  checks: none run (${report.checks.length} configured)`);
  } else if (report.checks.length > 0) {
    lines.push('', renderTable(['CHECK', 'TYPE', 'STATUS', 'MESSAGE'], report.checks.map((check) => [check.name, check.type, check.status, check.message]), '  '));
  }
  const rows = objectiveRows(report);
  if (rows.length > 0) lines.push('', renderTable(['OBJECTIVE', 'LIMIT', 'MEASURED', 'STATUS'], rows, '  '));
  if (report.retention) {
    const { policy, removed, problems } = report.retention;
    lines.push('', `  retention (${policy}): ${removed.length > 0 ? `removed ${removed.join(', ')}` : 'nothing to remove'}`);
    for (const problem of problems) lines.push(`    ${problem}`);
  }
  for (const warning of report.warnings ?? []) lines.push('', `  warning: ${warning}`);
  if (report.notifications && report.notifications.length > 0) {
    lines.push('', renderTable(['NOTIFIED', 'EVENT', 'STATUS', 'MESSAGE'], report.notifications.map((sent) => [sent.notifier, sent.event, sent.status, sent.message ?? '']), '  '));
  }
  if (reportPath) lines.push('', `  report: ${reportPath}`);
  return lines.join('\n');
}

/** Objectives with what was measured, and measurements without an objective; nothing when nothing was measured. */
function objectiveRows(report: Report): string[][] {
  const { measured } = report;
  if (measured.rtoSeconds === null && measured.rpoSeconds === null) return [];
  const rows: string[][] = [];
  for (const [name, seconds] of [['RTO', measured.rtoSeconds], ['RPO', measured.rpoSeconds]] as const) {
    const objective = report.objectives[name.toLowerCase() as 'rto' | 'rpo'];
    const shown = seconds === null ? '-' : formatDuration(seconds * 1000);
    if (objective) rows.push([name, objective.limit, shown, objective.status]);
    else if (seconds !== null) rows.push([name, '-', shown, 'no objective']);
  }
  const trend = report.trend?.rto;
  if (trend && trend.status !== 'not measured') {
    const median = trend.medianSeconds === null ? '-' : `median ${formatDuration(trend.medianSeconds * 1000)}`;
    const status =
      trend.status === 'insufficient history' ? `not judged (${trend.basedOnRuns} earlier passed runs, ${RTO_TREND_MINIMUM_RUNS} needed)` : `${trend.status} (${trend.increasePercent}% vs median)`;
    rows.push(['RTO trend', `+${trend.maxIncreasePercent}%`, median, status]);
  }
  return rows;
}

/** Sub-phases indented under their parent: `backup.dump` → `  dump`. */
function phaseLabel(name: string): string {
  const depth = name.startsWith('check:') ? 1 : name.split('.').length - 1;
  const leaf = name.startsWith('check:') ? name : (name.split('.').at(-1) ?? name);
  return `${'  '.repeat(depth)}${leaf}`;
}
