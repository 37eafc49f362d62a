import { renderTable, formatTime, type Output } from '../output.ts';
import { openSession, type GlobalOptions } from '../session.ts';
import { readLatestReport } from '../../report/json-file-reporter.ts';
import { describeConnection } from '../../engines/postgres/postgres-connection.ts';
import { EXIT } from '../exit-codes.ts';
import type { DrillConfig } from '../../config/load.ts';
import type { SourceConfig } from '../../engines/registry.ts';

/** `firedrill list`: every drill with its schedule and last result. Secrets are not needed for this. */
export async function listCommand(global: GlobalOptions, output: Output): Promise<number> {
  const { runner, loaded } = await openSession(global, { resolveSecrets: false, defaultLogLevel: 'warn' });
  const rows: string[][] = [];
  for (const drill of loaded.drills) {
    const last = await readLatestReport(runner.reportsDirectory, drill.name);
    rows.push([
      drill.name,
      drill.schedule ?? '-',
      describeWhatIsBackedUp(drill),
      last ? formatTime(last.startedAt) : 'never',
      last ? last.status : '-',
    ]);
  }
  for (const [name, problems] of loaded.problems) {
    const first = problems[0];
    const where = first?.path ? `${first.path}: ` : '';
    rows.push([name, '-', '-', '-', `invalid: ${where}${first?.message ?? ''}${problems.length > 1 ? ` (+${problems.length - 1} more; see firedrill validate)` : ''}`]);
  }
  if (rows.length === 0) {
    output.out(`no drills in ${loaded.directory}`);
    return EXIT.PASSED;
  }
  output.out(renderTable(['DRILL', 'SCHEDULE', 'SOURCE', 'LAST RUN', 'STATUS'], rows.sort((a, b) => (a[0] ?? '').localeCompare(b[0] ?? ''))));
  return loaded.problems.size > 0 ? EXIT.ERROR : EXIT.PASSED;
}

/** The source, each named target, or (for a drill of backups made elsewhere) where those are. */
function describeWhatIsBackedUp(drill: DrillConfig): string {
  const describe = (source: SourceConfig) => (source.type === 'files' ? source.paths.join(', ') : describeConnection(source.connection));
  if (drill.source) return describe(drill.source);
  if (drill.targets) return Object.entries(drill.targets).map(([name, target]) => `${name}: ${describe(target)}`).join('; ');
  const existing = drill.backup.existing;
  return existing ? `existing: ${existing.repository}:${existing.prefix}${existing.pattern}` : '-';
}
