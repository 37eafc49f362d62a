import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSourceDatabase } from '../support/source-database.ts';
import type { DemoSource } from '../../src/demo/demo-source.ts';
import { countSourceRows, readSourceCatalog } from '../../src/engines/postgres/source-fingerprint.ts';
import { exportSnapshot } from '../../src/engines/postgres/snapshot.ts';
import { connect, SessionGroup } from '../../src/engines/postgres/session.ts';
import { prepareSourceSession } from '../../src/engines/postgres/source-session.ts';

/**
 * The counts describe the snapshot, not the moment they run: rows changed
 * after the snapshot do not move them, and a table rewritten after the
 * snapshot (whose new file the snapshot cannot see through) is marked
 * uncertain instead of being counted wrong.
 */

let source: DemoSource & { env: Record<string, string> };

beforeAll(async () => {
  source = await startSourceDatabase();
});
afterAll(async () => {
  await source?.stop();
});

async function withSnapshot(changesAfterSnapshot: (other: pg.Client) => Promise<void>, jobs = 2, lockWaitTimeoutMs = 10_000) {
  const control = await connect(source.connection);
  const other = await connect(source.connection);
  const sessions = new SessionGroup(source.connection);
  try {
    await prepareSourceSession(control, { lockWaitTimeoutMs: 10_000 });
    const snapshot = await exportSnapshot(control);
    const options = { rowCounts: 'exact' as const, jobs, lockWaitTimeoutMs };
    const { inventory, tables } = await readSourceCatalog(control, options);
    await changesAfterSnapshot(other);
    const rowCounts = await countSourceRows(snapshot.id, tables, options, sessions, new AbortController().signal);
    return { inventory, rowCounts };
  } finally {
    await sessions.close();
    await control.query('rollback').catch(() => undefined);
    await control.end();
    await other.end();
  }
}

describe('the source fingerprint', () => {
  it('counts the rows of the snapshot, whatever is inserted or deleted after it', async () => {
    const fingerprint = await withSnapshot(async (other) => {
      await other.query("insert into products (sku, title, price_cents) values ('SKU-NEW', 'new', 100)");
      await other.query('delete from order_items where order_id in (select id from orders order by id limit 10)');
    });
    expect(fingerprint.rowCounts['public.products']).toEqual({ rows: 40, method: 'exact' });
    expect(fingerprint.rowCounts['public.orders']).toEqual({ rows: 1200, method: 'exact' });
    expect(fingerprint.inventory.tables).toEqual(['public.customers', 'public.order_items', 'public.orders', 'public.products']);
  });

  it('marks a table truncated after the snapshot as uncertain rather than counting it wrong', async () => {
    const fingerprint = await withSnapshot(async (other) => {
      await other.query('create table staging (id int); insert into staging select generate_series(1, 10)');
    });
    expect(fingerprint.rowCounts['public.staging']).toBeUndefined();

    const truncated = await withSnapshot(async (other) => {
      await other.query('truncate staging');
    }, 1);
    expect(truncated.rowCounts['public.staging']).toEqual({ rows: 0, method: 'uncertain' });
    expect(truncated.rowCounts['public.orders']?.method).toBe('exact');
    const cleanup = await connect(source.connection);
    await cleanup.query('drop table staging');
    await cleanup.end();
  });

  it('works on a database whose settings time out idle transactions and long statements', async () => {
    const admin = await connect(source.cluster.connection('postgres'));
    await admin.query(`alter database shop set idle_in_transaction_session_timeout = '300ms'`);
    await admin.query(`alter database shop set statement_timeout = '1ms'`);
    try {
      const fingerprint = await withSnapshot(async () => {
        // The control session sits idle in its transaction, as it does while pg_dump runs.
        await new Promise((resolve) => setTimeout(resolve, 800));
      });
      expect(fingerprint.rowCounts['public.orders']).toEqual({ rows: 1200, method: 'exact' });
    } finally {
      await admin.query('alter database shop reset idle_in_transaction_session_timeout');
      await admin.query('alter database shop reset statement_timeout');
      await admin.end();
    }
  });

  it('sets aside a table that DDL keeps locked, counts it at the end, and never fails the backup over it', async () => {
    // An ALTER waiting for pg_dump holds the line for everyone behind it; here a held lock plays that part.
    const released = await withSnapshot(async (other) => {
      await other.query('begin');
      await other.query('lock table orders in access exclusive mode');
      setTimeout(() => void other.query('rollback').catch(() => undefined), 3_000);
    });
    expect(released.rowCounts['public.orders']).toEqual({ rows: 1200, method: 'exact' });

    const stillLocked = await withSnapshot(
      async (other) => {
        await other.query('begin');
        await other.query('lock table orders in access exclusive mode');
        setTimeout(() => void other.query('rollback').catch(() => undefined), 8_000);
      },
      2,
      3_000,
    );
    expect(stillLocked.rowCounts['public.orders']).toEqual({ rows: 0, method: 'uncertain' });
    expect(stillLocked.rowCounts['public.customers']).toEqual({ rows: 300, method: 'exact' });
  });
});

