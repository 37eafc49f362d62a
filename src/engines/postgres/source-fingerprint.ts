import type pg from 'pg';
import { throwIfAborted } from '../../abort.ts';
import type { PostgresConnection } from './postgres-connection.ts';
import { SessionGroup } from './session.ts';
import { prepareSourceSession } from './source-session.ts';
import {
  captureInventory,
  countTable,
  listCountableTables,
  looseTableName,
  qualifiedTableName,
  type CountableTable,
  type Fingerprint,
  type Query,
  type RowCount,
} from './fingerprint.ts';

/**
 * The source's fingerprint, in the snapshot pg_dump dumps. The control
 * session (which exported the snapshot) reads the catalogs; counting sessions
 * import the snapshot and count, committing every few tables so they never
 * hold more than a handful of table locks on a production server, and never
 * a lock pg_dump could end up waiting behind.
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

/** Tables counted per transaction: each holds its tables' ACCESS SHARE locks until it commits. */
const TABLES_PER_TRANSACTION = 50;

export async function captureSourceFingerprint(
  control: pg.Client,
  connection: PostgresConnection,
  snapshot: string,
  options: SourceFingerprintOptions,
  sessions: SessionGroup,
  signal: AbortSignal,
): Promise<Fingerprint> {
  const controlQuery: Query = async (sql) => (await control.query<Record<string, unknown>>(sql)).rows;
  const inventory = await captureInventory(controlQuery);
  const tables = await listCountableTables(controlQuery);
  const plan = planRowCounts(tables, options);
  if (plan.unknown.length > 0) throw new UnknownTablesError(plan.unknown);

  const rowCounts: Record<string, RowCount> = {};
  for (const [table, rows] of Object.entries(plan.estimated)) rowCounts[table] = { rows, method: 'estimate' };
  const byName = new Map(tables.map((table) => [table.name, table]));
  // Largest first, so that the last table to finish is a small one.
  const queue = plan.exact.map((name) => byName.get(name) as CountableTable).sort((a, b) => b.pages - a.pages);
  const workers = Math.min(options.jobs, queue.length);
  await Promise.all(
    Array.from({ length: workers }, async () => {
      const client = await sessions.open();
      await prepareSourceSession(client, options);
      const query: Query = async (sql) => (await client.query<Record<string, unknown>>(sql)).rows;
      while (queue.length > 0) {
        throwIfAborted(signal);
        await client.query('begin isolation level repeatable read, read only');
        await client.query(`set transaction snapshot '${snapshot.replaceAll("'", "''")}'`);
        for (const table of queue.splice(0, TABLES_PER_TRANSACTION)) {
          const counted = await countTable(query, table.name);
          rowCounts[table.name] = { rows: counted.rows, method: counted.filenode === table.filenode ? 'exact' : 'uncertain' };
        }
        await client.query('commit');
      }
    }),
  );
  sessions.finished();
  return { inventory, rowCounts: Object.fromEntries(Object.entries(rowCounts).sort(([a], [b]) => a.localeCompare(b))) };
}
