import type { Manifest } from '../../interfaces.ts';
import type { Defect } from '../defect.ts';

/**
 * A restore that silently lacks one table's rows (pg_restore with a list
 * that leaves out its TABLE DATA entry): the table exists, empty. The
 * largest table is chosen, as the one whose loss matters most.
 */
export const tableDataMissing: Defect = {
  id: 'table-data-missing',
  description: "one table's data left out of the restore (the table is there, empty)",
  notApplicable: (context) =>
    !context.manifest.targets.some((target) => target.engine === 'postgres')
      ? 'the backup has no PostgreSQL target'
      : largestTable(context.manifest)
        ? undefined
        : 'the backup records no table with rows (a fingerprint of a PostgreSQL source)',
  apply: ({ manifest }) => Promise.resolve({ damage: { leaveOut: { entryType: 'TABLE DATA', qualifiedName: largestTable(manifest) } } }),
  suggestion: () =>
    'add a fingerprint check (checks: [{ type: fingerprint }]), or sql checks that count the rows of the tables that matter (expect: { min: ... })',
};

/** `schema.table` of the table with the most rows in the backup's fingerprint. */
function largestTable(manifest: Manifest): string | undefined {
  let largest: { table: string; rows: number } | undefined;
  for (const target of manifest.targets) {
    const rowCounts = (target.metadata['fingerprint'] as { rowCounts?: Record<string, { rows: number }> } | undefined)?.rowCounts ?? {};
    for (const [table, count] of Object.entries(rowCounts)) {
      if (count.rows > 0 && (!largest || count.rows > largest.rows)) largest = { table, rows: count.rows };
    }
  }
  return largest?.table;
}
