import type { Report } from '../report/report.ts';
import { formatDuration } from '../config/duration.ts';
import { formatBytes, formatTime, renderTable } from './output.ts';

/** The terminal summary of one report. */
export function renderReport(report: Report, reportPath?: string): string {
  const lines: string[] = [];
  lines.push(`drill ${report.drill}: ${report.status.toUpperCase()}  (run ${report.runId}, ${formatDuration(report.durationMs)})`);
  lines.push(`  ${report.summary}`);
  if (report.error) {
    lines.push('', `  error in ${report.error.phase ?? 'the drill'} (${report.error.kind}):`);
    lines.push(...report.error.message.split('\n').map((line) => `    ${line}`));
  }
  if (report.backup) {
    const backup = report.backup;
    const target = backup.targets[0];
    const made = target?.tool ? `, ${target.tool} ${target.toolVersion} from PostgreSQL ${target.serverVersion}` : '';
    lines.push('', `  backup   ${backup.id}${backup.reused ? ' (existing)' : ''}: ${formatBytes(backup.sizeBytes)}${made}, snapshot ${formatTime(backup.snapshotAt)}`);
    lines.push(`           in repository "${backup.repository}", manifest SHA-256 ${backup.sha256}`);
  }
  if (report.restore?.description) lines.push(`  sandbox  ${report.restore.description}`);

  lines.push('', renderTable(['PHASE', 'DURATION', 'STATUS'], report.phases.map((phase) => [phaseLabel(phase.name), formatDuration(phase.durationMs), phase.status]), '  '));
  if (report.checks.length > 0) {
    lines.push('', renderTable(['CHECK', 'TYPE', 'STATUS', 'MESSAGE'], report.checks.map((check) => [check.name, check.type, check.status, check.message]), '  '));
  }
  const objectives = Object.entries(report.objectives);
  const measured = report.measured;
  const rows = objectives.map(([name, objective]) => [
    name.toUpperCase(),
    objective.limit,
    objective.measuredSeconds === null ? '-' : formatDuration(objective.measuredSeconds * 1000),
    objective.status,
  ]);
  for (const [name, seconds] of [['RTO', measured.rtoSeconds], ['RPO', measured.rpoSeconds]] as const) {
    if (!objectives.some(([key]) => key.toUpperCase() === name) && seconds !== null) rows.push([name, '-', formatDuration(seconds * 1000), 'no objective']);
  }
  if (rows.length > 0) lines.push('', renderTable(['OBJECTIVE', 'LIMIT', 'MEASURED', 'STATUS'], rows, '  '));
  if (reportPath) lines.push('', `  report: ${reportPath}`);
  return lines.join('\n');
}

/** Sub-phases indented under their parent: `backup.dump` → `  dump`. */
function phaseLabel(name: string): string {
  const depth = name.startsWith('check:') ? 1 : name.split('.').length - 1;
  const leaf = name.startsWith('check:') ? name : (name.split('.').at(-1) ?? name);
  return `${'  '.repeat(depth)}${leaf}`;
}
