import type pg from 'pg';
import { BackupError } from '../../errors.ts';
import { onAbort, throwIfAborted } from '../../abort.ts';
import type { Releasers } from '../../drill/releasers.ts';
import type { PostgresConnection } from './postgres-connection.ts';
import { connect, disconnect } from './session.ts';
import { captureInventory, countRowsExactly, listCountableTables, looseTableName, qualifiedTableName, type CountableTable, type Fingerprint, type Query, type RowCount } from './fingerprint.ts';

/**
 * The source's fingerprint, taken in the snapshot pg_dump dumps: the control
 * session exported it, and every extra counting session imports it, so all
 * counts describe the very same moment as the dump.
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

export async function captureSourceFingerprint(
  control: pg.Client,
  connection: PostgresConnection,
  snapshot: string,
  options: FingerprintOptions & { jobs: number; lockWaitTimeoutMs: number },
  signal: AbortSignal,
  releasers: Releasers,
): Promise<Fingerprint> {
  const controlQuery: Query = async (sql) => (await control.query<Record<string, unknown>>(sql)).rows;
  const inventory = await captureInventory(controlQuery);
  const tables = await listCountableTables(controlQuery);
  const plan = planRowCounts(tables, options);
  if (plan.unknown.length > 0) {
    throw new BackupError(`backup.fingerprint.tables names ${plan.unknown.join(', ')}, which the source does not have; correct the list or remove it`);
  }

  const sessions: Query[] = [controlQuery];
  const extraClients: pg.Client[] = [];
  // Counts still running when the dump fails or the run is aborted are cancelled on the server, not just abandoned.
  let finished = false;
  const closeExtra = releasers.add('fingerprint sessions', async () => {
    await Promise.all(extraClients.map((client) => disconnect(client, connection, { cancel: !finished })));
  });
  const stopWatching = onAbort(signal, () => void closeExtra.release());
  try {
    const extra = Math.min(options.jobs, plan.exact.length) - 1;
    for (let index = 0; index < extra; index++) {
      throwIfAborted(signal);
      const client = await connect(connection);
      extraClients.push(client);
      await client.query('begin isolation level repeatable read, read only');
      await client.query(`set transaction snapshot '${snapshot.replaceAll("'", "''")}'`);
      await client.query(`set local lock_timeout = ${options.lockWaitTimeoutMs}`);
      sessions.push(async (sql) => (await client.query<Record<string, unknown>>(sql)).rows);
    }
    const pages = new Map(tables.map((table) => [table.name, table.pages]));
    const counted = await countRowsExactly(sessions, plan.exact, pages);
    const rowCounts: Record<string, RowCount> = {};
    for (const [table, rows] of Object.entries(counted)) rowCounts[table] = { rows, method: 'exact' };
    for (const [table, rows] of Object.entries(plan.estimated)) rowCounts[table] = { rows, method: 'estimate' };
    finished = true;
    return { inventory, rowCounts: Object.fromEntries(Object.entries(rowCounts).sort(([a], [b]) => a.localeCompare(b))) };
  } finally {
    stopWatching();
    await closeExtra.release();
  }
}
