import type pg from 'pg';
import { BackupError, errorMessage } from '../../errors.ts';
import { USER_RELATION_FILTER } from './fingerprint.ts';

/**
 * The snapshot pg_dump dumps and the fingerprint describes. Every table is
 * locked (ACCESS SHARE, as pg_dump itself does) before the snapshot is taken,
 * and the locks are held until the fingerprint is complete. Without them a
 * TRUNCATE or table rewrite committed while the counts run (TRUNCATE is not
 * MVCC-safe) would make the snapshot's count differ from what was dumped.
 * These locks block only ACCESS EXCLUSIVE operations, which pg_dump's own
 * locks block anyway.
 */

export interface ExportedSnapshot {
  id: string;
  /** On the source's clock. */
  takenAt: Date;
  /** The same moment on firedrill's clock. */
  takenAtLocal: Date;
}

const LOCK_BATCH = 500;
const ATTEMPTS = 3;
const UNDEFINED_TABLE = '42P01';

export async function exportLockedSnapshot(control: pg.Client, lockTimeoutMs: number, where: string): Promise<ExportedSnapshot> {
  for (let attempt = 1; ; attempt++) {
    // Listed before the transaction: LOCK does not take the snapshot, so the snapshot comes after the locks.
    const tables = (
      await control.query<{ name: string }>(`select format('%I.%I', n.nspname, c.relname) as name from pg_class c
        join pg_namespace n on n.oid = c.relnamespace where c.relkind = 'r' and ${USER_RELATION_FILTER}`)
    ).rows.map((row) => row.name);
    await control.query('begin isolation level repeatable read, read only');
    try {
      await control.query(`set local lock_timeout = ${lockTimeoutMs}`);
      for (let index = 0; index < tables.length; index += LOCK_BATCH) {
        await control.query(`lock table ${tables.slice(index, index + LOCK_BATCH).join(', ')} in access share mode`);
      }
      const exported = await control.query<{ snapshot: string; taken_at: Date }>('select pg_export_snapshot() as snapshot, statement_timestamp() as taken_at');
      const row = exported.rows[0] as { snapshot: string; taken_at: Date };
      return { id: row.snapshot, takenAt: row.taken_at, takenAtLocal: new Date() };
    } catch (error) {
      await control.query('rollback').catch(() => undefined);
      // A table dropped between the listing and the lock: list again.
      if ((error as { code?: string }).code === UNDEFINED_TABLE && attempt < ATTEMPTS) continue;
      if ((error as { code?: string }).code === '55P03') {
        throw new BackupError(
          `could not lock the tables of ${where} within backup.lockWaitTimeout (${errorMessage(error)}); ` +
            'a long-running ALTER, TRUNCATE or VACUUM FULL holds an exclusive lock. Retry later or raise backup.lockWaitTimeout',
          { cause: error },
        );
      }
      throw new BackupError(`could not open a snapshot on ${where}: ${errorMessage(error)}`, { cause: error });
    }
  }
}
