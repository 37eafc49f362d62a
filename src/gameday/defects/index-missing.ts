import type { Defect } from '../defect.ts';

/** A restore that silently lacks an index (left out of pg_restore's list): the data is all there, the database is not what was backed up. */
export const indexMissing: Defect = {
  id: 'index-missing',
  description: 'one index left out of the restore',
  notApplicable: ({ manifest }) => (manifest.targets.some((target) => target.engine === 'postgres') ? undefined : 'the backup has no PostgreSQL target'),
  apply: () => Promise.resolve({ damage: { leaveOut: { entryType: 'INDEX' } } }),
  suggestion: () => 'add a fingerprint check (checks: [{ type: fingerprint }]): it compares the restored schema (tables, indexes, constraints, functions) with the source\'s',
};
