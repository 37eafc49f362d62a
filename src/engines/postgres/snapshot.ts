import type pg from 'pg';

/**
 * The snapshot pg_dump dumps and the fingerprint describes: a REPEATABLE READ,
 * READ ONLY transaction on the control session, exported. The transaction
 * stays open until the dump and the fingerprint are done, since pg_dump and
 * the counting sessions import the snapshot from it.
 *
 * It takes no table locks: a lock held here while pg_dump is still acquiring
 * its own could leave pg_dump queued behind an ALTER TABLE that waits for this
 * session, a deadlock PostgreSQL cannot see. Tables rewritten while the
 * backup runs are detected by the fingerprint instead (see source-fingerprint.ts).
 */

export interface ExportedSnapshot {
  id: string;
  /** On the source's clock. */
  takenAt: Date;
  /** The same moment on firedrill's clock. */
  takenAtLocal: Date;
}

export async function exportSnapshot(control: pg.Client): Promise<ExportedSnapshot> {
  await control.query('begin isolation level repeatable read, read only');
  const exported = await control.query<{ snapshot: string; taken_at: Date }>('select pg_export_snapshot() as snapshot, statement_timestamp() as taken_at');
  const row = exported.rows[0] as { snapshot: string; taken_at: Date };
  return { id: row.snapshot, takenAt: row.taken_at, takenAtLocal: new Date() };
}
