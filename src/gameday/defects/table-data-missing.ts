import type { Manifest } from '../../interfaces.ts';
import type { Defect } from '../defect.ts';
import { caughtByChecks, fingerprintOf, postgresTargets } from './postgres-facts.ts';

/**
 * A restore that silently lacks one table's rows (pg_restore with a list
 * that leaves out its TABLE DATA entry): the table exists, empty. The
 * largest table is chosen, as the one whose loss matters most.
 */
export const tableDataMissing: Defect = {
  id: 'table-data-missing',
  description: "one table's data left out of the restore (the table is there, empty)",
  notApplicable: ({ manifest }) =>
    postgresTargets(manifest).length === 0
      ? 'the backup has no PostgreSQL target'
      : largestTable(manifest)
        ? undefined
        : 'the backup records no table with rows (a fingerprint of a PostgreSQL source)',
  apply({ manifest }) {
    const table = largestTable(manifest);
    if (!table) throw new Error('the backup records no table with rows');
    return Promise.resolve({ damage: { target: table.target, leaveOut: { entryType: 'TABLE DATA', schema: table.schema, name: table.name } } });
  },
  // Only a check can tell: a restore that broke on the missing rows (a foreign key) says nothing of the drill's checks.
  caught: caughtByChecks,
  suggestion: () =>
    'add a fingerprint check (checks: [{ type: fingerprint }]), or sql checks that count the rows of the tables that matter (expect: { min: ... })',
};

/** The table with the most rows in the backup's fingerprints, with its target, schema and name unquoted. */
function largestTable(manifest: Manifest): { target: string; schema: string; name: string } | undefined {
  let largest: { target: string; qualified: string; rows: number } | undefined;
  for (const target of postgresTargets(manifest)) {
    for (const [qualified, count] of Object.entries(fingerprintOf(target)?.rowCounts ?? {})) {
      if (count.rows > 0 && (!largest || count.rows > largest.rows)) largest = { target: target.name, qualified, rows: count.rows };
    }
  }
  if (!largest) return undefined;
  const [schema, name] = splitQualifiedName(largest.qualified);
  return { target: largest.target, schema, name };
}

/** `public."Order Items"` → [`public`, `Order Items`]: the fingerprint's keys are quoted as format('%I.%I') quotes them. */
export function splitQualifiedName(qualified: string): [string, string] {
  const parts = [...qualified.matchAll(/"((?:[^"]|"")*)"|([^."]+)/g)].map((match) => (match[1] !== undefined ? match[1].replaceAll('""', '"') : (match[2] as string)));
  return [parts[0] ?? '', parts[1] ?? ''];
}
