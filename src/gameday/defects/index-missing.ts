import type { Defect } from '../defect.ts';
import { caughtByChecks, postgresTargets } from './postgres-facts.ts';

/** A restore that silently lacks an index (left out of pg_restore's list): the data is all there, the database is not what was backed up. */
export const indexMissing: Defect = {
  id: 'index-missing',
  description: 'one index left out of the restore',
  notApplicable: ({ manifest }) => (postgresTargets(manifest).length > 0 ? undefined : 'the backup has no PostgreSQL target'),
  apply({ manifest }) {
    const target = postgresTargets(manifest)[0];
    if (!target) throw new Error('the backup has no PostgreSQL target');
    return Promise.resolve({ damage: { target: target.name, leaveOut: { entryType: 'INDEX' } } });
  },
  caught: caughtByChecks,
  suggestion: () => 'add a fingerprint check (checks: [{ type: fingerprint }]): it compares the restored schema (tables, indexes, constraints, functions) with the source\'s',
};
