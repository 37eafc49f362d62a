import type pg from 'pg';
import { throwIfAborted } from '../../abort.ts';
import type { SessionGroup } from './session.ts';
import { prepareSourceSession } from './source-session.ts';
import {
  captureInventory,
  countTable,
  listCountableTables,
  looseTableName,
  qualifiedTableName,
  type CountableTable,
  type Inventory,
  type Query,
  type RowCount,
} from './fingerprint.ts';
import { quoteLiteral } from './sql.ts';

/**
 * The source's fingerprint, in the snapshot pg_dump dumps. The control
 * session (which exported the snapshot) reads the catalogs before pg_dump
 * starts; counting sessions import the snapshot and count while pg_dump
 * runs. They commit every 50 tables and wait at most two seconds for a
 * table's lock before setting the table aside for the end, so pg_dump is
 * never kept waiting behind them for long, and DDL that queues up behind
 * pg_dump never fails the backup.
 *
 * A count is only as good as the file it read: a table that was rewritten
 * (TRUNCATE, VACUUM FULL, CLUSTER, a rewriting ALTER TABLE) after the snapshot
 * is counted from its new file, which the snapshot cannot see through. Such a
 * count is recorded as `uncertain` and not compared, rather than reported as a
 * difference the backup does not have.
 */

export interface FingerprintOptions {
  /** `exact` counts every table, `estimate` reads the planner's estimates, `off` records no counts. */
  rowCounts: 'exact' | 'estimate' | 'off';
  /** Only these tables are counted exactly; the others are estimated. (Default: all tables) */
  tables?: string[] | undefined;
  /** Tables estimated above this many rows are estimated rather than counted. (Default: no limit) */
  estimateAbove?: number | undefined;
}

export interface FingerprintPlan {
  exact: string[];
  estimated: Record<string, number>;
  /** Names in `tables` that the source does not have. */
  unknown: string[];
}

/** Decides which tables are counted and which estimated. Pure, for unit tests. */
export function planRowCounts(tables: CountableTable[], options: FingerprintOptions): FingerprintPlan {
  const plan: FingerprintPlan = { exact: [], estimated: {}, unknown: [] };
  if (options.rowCounts === 'off') return plan;
  const wanted = options.tables ? new Set(options.tables.map(qualifiedTableName)) : undefined;
  // A table is wanted when it, or a partitioned table or inheritance parent above it, is named.
  const namesOf = (table: CountableTable) => [table.name, ...table.ancestors].map(looseTableName);
  const known = new Set(tables.flatMap(namesOf));
  plan.unknown = [...(wanted ?? [])].filter((name) => !known.has(name));
  for (const table of tables) {
    // A table never analyzed has no estimate (-1): only a count can tell.
    const estimable = table.estimate >= 0;
    const estimate =
      estimable &&
      (options.rowCounts === 'estimate' ||
        (wanted !== undefined && !namesOf(table).some((name) => wanted.has(name))) ||
        (options.estimateAbove !== undefined && table.estimate > options.estimateAbove));
    if (estimate) plan.estimated[table.name] = Math.round(table.estimate);
    else plan.exact.push(table.name);
  }
  return plan;
}

export interface SourceFingerprintOptions extends FingerprintOptions {
  jobs: number;
  lockWaitTimeoutMs: number;
}

export class UnknownTablesError extends Error {
  readonly tables: string[];
  constructor(tables: string[]) {
    super(`backup.fingerprint.tables names ${tables.join(', ')}, which the source does not have; correct the list or remove it`);
    this.tables = tables;
  }
}

/**
 * The inventory and the list of tables, read by the control session before
 * pg_dump starts: reading some definitions takes a brief table lock, which
 * must not end up queued behind an ALTER that waits for pg_dump.
 */
export async function readSourceCatalog(control: pg.Client, options: FingerprintOptions): Promise<{ inventory: Inventory; tables: CountableTable[] }> {
  const query: Query = async (sql) => (await control.query<Record<string, unknown>>(sql)).rows;
  const inventory = await captureInventory(query);
  const tables = await listCountableTables(query);
  const unknown = planRowCounts(tables, options).unknown;
  if (unknown.length > 0) throw new UnknownTablesError(unknown);
  return { inventory, tables };
}

/** Tables counted per transaction: each holds its tables' ACCESS SHARE locks until it commits. */
const TABLES_PER_TRANSACTION = 50;
/**
 * How long a count first waits for its table's lock. A longer wait means an
 * ALTER or TRUNCATE is queued behind pg_dump's locks: the table is set aside
 * and tried again at the end, when that statement has likely run.
 */
const FIRST_LOCK_WAIT_MS = 2_000;
const LOCK_NOT_AVAILABLE = '55P03';

/** Row counts in the snapshot, by `jobs` sessions; the sessions are closed when done. */
export async function countSourceRows(
  snapshot: string,
  tables: CountableTable[],
  options: SourceFingerprintOptions,
  sessions: SessionGroup,
  signal: AbortSignal,
): Promise<Record<string, RowCount>> {
  const plan = planRowCounts(tables, options);
  const rowCounts: Record<string, RowCount> = {};
  for (const [table, rows] of Object.entries(plan.estimated)) rowCounts[table] = { rows, method: 'estimate' };
  const byName = new Map(tables.map((table) => [table.name, table]));
  // Largest first, so that the last table to finish is a small one.
  const queue = plan.exact.map((name) => byName.get(name) as CountableTable).sort((a, b) => b.pages - a.pages);
  const setAside: CountableTable[] = [];
  const workers = Math.min(options.jobs, queue.length);
  const clients = await Promise.all(
    Array.from({ length: workers }, async () => {
      const client = await sessions.open();
      await prepareSourceSession(client, options);
      return client;
    }),
  );
  const count = async (client: pg.Client, batch: CountableTable[], lockWaitMs: number, onLocked: (table: CountableTable) => void) => {
    throwIfAborted(signal);
    const query: Query = async (sql) => (await client.query<Record<string, unknown>>(sql)).rows;
    await client.query('begin isolation level repeatable read, read only');
    await client.query(`set transaction snapshot ${quoteLiteral(snapshot)}`);
    await client.query(`set local lock_timeout = ${lockWaitMs}`);
    for (const table of batch) {
      await client.query('savepoint count_table');
      try {
        const counted = await countTable(query, table.name);
        rowCounts[table.name] = { rows: counted.rows, method: counted.filenode === table.filenode ? 'exact' : 'uncertain' };
        await client.query('release savepoint count_table');
      } catch (error) {
        if ((error as { code?: string }).code !== LOCK_NOT_AVAILABLE) throw error;
        await client.query('rollback to savepoint count_table');
        onLocked(table);
      }
    }
    await client.query('commit');
  };
  await Promise.all(
    clients.map(async (client) => {
      while (queue.length > 0) await count(client, queue.splice(0, TABLES_PER_TRANSACTION), FIRST_LOCK_WAIT_MS, (table) => setAside.push(table));
    }),
  );
  // A table still locked after the full wait cannot be counted in the snapshot: it is not compared, not failed.
  if (setAside.length > 0 && clients[0]) {
    await count(clients[0], setAside, options.lockWaitTimeoutMs, (table) => (rowCounts[table.name] = { rows: 0, method: 'uncertain' }));
  }
  await sessions.close({ cancel: false });
  return Object.fromEntries(Object.entries(rowCounts).sort(([a], [b]) => a.localeCompare(b)));
}
