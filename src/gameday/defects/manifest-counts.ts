import type { Manifest } from '../../interfaces.ts';
import type { Defect } from '../defect.ts';

/**
 * A manifest whose fingerprint says the source had one more row than the
 * dump holds: what a dump that silently lost a row looks like to a drill.
 * Only a fingerprint check compares restored row counts with the source's.
 */
export const manifestCounts: Defect = {
  id: 'manifest-counts',
  description: "the manifest's row count of one table raised by one (as if the dump had lost a row)",
  notApplicable: ({ manifest }) => (countedTable(manifest) ? undefined : 'the backup records no exact row counts (a fingerprint of a PostgreSQL source)'),
  async apply(_context, copy) {
    const tampered = structuredClone(await copy.readManifest());
    const found = countedTable(tampered);
    if (!found) throw new Error('the backup records no exact row count to tamper with');
    found.count.rows += 1;
    await copy.writeManifest(tampered);
    return {};
  },
  suggestion: () => 'add a fingerprint check (checks: [{ type: fingerprint }]): it compares every table\'s restored row count with the source\'s at backup time',
};

interface CountedTable {
  table: string;
  count: { rows: number; method: string };
}

/** The first table with an exact row count in a target's fingerprint. */
function countedTable(manifest: Manifest): CountedTable | undefined {
  for (const target of manifest.targets) {
    const rowCounts = (target.metadata['fingerprint'] as { rowCounts?: Record<string, { rows: number; method: string }> } | undefined)?.rowCounts ?? {};
    for (const [table, count] of Object.entries(rowCounts).sort(([a], [b]) => a.localeCompare(b))) {
      if (count.method === 'exact' && count.rows > 0) return { table, count };
    }
  }
  return undefined;
}
