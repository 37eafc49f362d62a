import { z } from 'zod';

/**
 * The fingerprint of a database: per-table row counts and an inventory of its
 * schema objects. Taken on the source inside the dump's own snapshot, stored
 * in the manifest, and taken again on the restored database by the
 * `fingerprint` check. Metadata only: names, definitions and counts, never
 * row data.
 *
 * Every query runs with `search_path = pg_catalog`, so that definitions come
 * out fully qualified and identical on both sides whatever the sessions'
 * settings. Objects that belong to an extension are left out: they come with
 * CREATE EXTENSION, not with the dump.
 */

export type Query = (sql: string) => Promise<Record<string, unknown>[]>;

export const INVENTORY_CATEGORIES = [
  'schemas',
  'tables',
  'columns',
  'indexes',
  'constraints',
  'sequences',
  'views',
  'materializedViews',
  'functions',
  'triggers',
  'extensions',
] as const;
export type InventoryCategory = (typeof INVENTORY_CATEGORIES)[number];

export const rowCountSchema = z.looseObject({
  rows: z.number(),
  method: z.enum(['exact', 'estimate']),
});
export type RowCount = z.output<typeof rowCountSchema>;

export const fingerprintSchema = z.looseObject({
  inventory: z.looseObject({
    ...Object.fromEntries(INVENTORY_CATEGORIES.map((category) => [category, z.array(z.string())])),
    largeObjects: z.number(),
  }) as unknown as z.ZodType<Inventory>,
  rowCounts: z.record(z.string(), rowCountSchema),
});

export type Inventory = Record<InventoryCategory, string[]> & { largeObjects: number };
export type Fingerprint = {
  inventory: Inventory;
  rowCounts: Record<string, RowCount>;
};

const USER_NAMESPACE = `n.nspname <> 'information_schema' and n.nspname !~ '^pg_'`;
const notExtensionMember = (catalog: string, oid: string) =>
  `not exists (select 1 from pg_depend d where d.classid = '${catalog}'::regclass and d.objid = ${oid} and d.deptype = 'e')`;
const USER_RELATION = `${USER_NAMESPACE} and ${notExtensionMember('pg_class', 'c.oid')}`;
/** Relations (`pg_class c` joined to `pg_namespace n`) that belong to the user, not to the system or an extension. */
export const USER_RELATION_FILTER = USER_RELATION;

/** One query per category; each returns a single text column `item`. */
const INVENTORY_QUERIES: Record<InventoryCategory, string> = {
  schemas: `select format('%I', n.nspname) as item from pg_namespace n where ${USER_NAMESPACE} and ${notExtensionMember('pg_namespace', 'n.oid')}`,
  tables: `select format('%I.%I', n.nspname, c.relname) as item from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where c.relkind in ('r', 'p', 'f') and ${USER_RELATION}`,
  columns: `select format('%I.%I.%I %s%s', n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
      case when a.attnotnull then ' not null' else '' end) as item
    from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
    where c.relkind in ('r', 'p', 'f', 'v', 'm') and a.attnum > 0 and not a.attisdropped and ${USER_RELATION}`,
  indexes: `select format('%I.%I: %s', n.nspname, ic.relname, pg_get_indexdef(i.indexrelid)) as item
    from pg_index i join pg_class ic on ic.oid = i.indexrelid join pg_class c on c.oid = i.indrelid join pg_namespace n on n.oid = c.relnamespace
    where ${USER_RELATION}`,
  // contype 'n' (not-null constraints in pg_constraint, PostgreSQL 18+) is left out: columns carry not-null already.
  constraints: `select format('%I.%I.%I: %s', n.nspname, c.relname, con.conname, pg_get_constraintdef(con.oid)) as item
    from pg_constraint con join pg_class c on c.oid = con.conrelid join pg_namespace n on n.oid = c.relnamespace
    where con.contype <> 'n' and ${USER_RELATION}`,
  sequences: `select format('%I.%I', n.nspname, c.relname) as item from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where c.relkind = 'S' and ${USER_RELATION}`,
  views: `select format('%I.%I', n.nspname, c.relname) as item from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where c.relkind = 'v' and ${USER_RELATION}`,
  // Rows of a materialized view are not compared: the restore refreshes it from the restored tables, while the
  // source may hold a stale result. Whether it is populated is what must survive.
  materializedViews: `select format('%I.%I', n.nspname, c.relname) || case when c.relispopulated then '' else ' (not populated)' end as item
    from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.relkind = 'm' and ${USER_RELATION}`,
  functions: `select format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)) as item
    from pg_proc p join pg_namespace n on n.oid = p.pronamespace
    where ${USER_NAMESPACE} and ${notExtensionMember('pg_proc', 'p.oid')}`,
  triggers: `select format('%I.%I.%I', n.nspname, c.relname, t.tgname) as item
    from pg_trigger t join pg_class c on c.oid = t.tgrelid join pg_namespace n on n.oid = c.relnamespace
    where not t.tgisinternal and ${USER_RELATION}`,
  extensions: `select format('%I', e.extname) as item from pg_extension e`,
};

/**
 * Settings that change how definitions print (constants in partial indexes and
 * check constraints): pinned, so the source and the sandbox print alike.
 */
const PRINT_SETTINGS = {
  search_path: 'pg_catalog',
  TimeZone: 'UTC',
  DateStyle: 'ISO, YMD',
  IntervalStyle: 'postgres',
  extra_float_digits: '3',
};

export async function captureInventory(query: Query): Promise<Inventory> {
  for (const [name, value] of Object.entries(PRINT_SETTINGS)) await query(`set local ${name} = '${value}'`);
  const inventory = { largeObjects: 0 } as Inventory;
  for (const category of INVENTORY_CATEGORIES) {
    const rows = await query(INVENTORY_QUERIES[category]);
    inventory[category] = rows.map((row) => String(row.item)).sort();
  }
  const [largeObjects] = await query('select count(*)::bigint as count from pg_largeobject_metadata');
  inventory.largeObjects = Number(largeObjects?.count ?? 0);
  return inventory;
}

export interface CountableTable {
  name: string;
  /** The planner's estimate (pg_class.reltuples); negative when there is none (the table was never analyzed). */
  estimate: number;
  /** Size in pages, to hand out the largest tables first. */
  pages: number;
  /** Partitioned tables and inheritance parents above this table: naming one in `tables` covers this table too. */
  ancestors: string[];
}

/** Tables that hold rows (partitions and inheritance children included; partitioned parents hold none of their own). */
export async function listCountableTables(query: Query): Promise<CountableTable[]> {
  const rows = await query(`with recursive ancestry(leaf, ancestor) as (
      select inhrelid, inhparent from pg_inherits
      union all select a.leaf, i.inhparent from ancestry a join pg_inherits i on i.inhrelid = a.ancestor)
    select format('%I.%I', n.nspname, c.relname) as name, c.reltuples::float8 as estimate, c.relpages::bigint as pages,
      coalesce((select array_agg(format('%I.%I', an.nspname, ac.relname)) from ancestry a
        join pg_class ac on ac.oid = a.ancestor join pg_namespace an on an.oid = ac.relnamespace where a.leaf = c.oid), '{}') as ancestors
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where c.relkind = 'r' and ${USER_RELATION}`);
  return rows.map((row) => {
    const pages = Number(row.pages);
    const reltuples = Number(row.estimate);
    // Before PostgreSQL 14 a never-analyzed table shows 0 rows in 0 pages rather than -1: no estimate either.
    const estimate = reltuples === 0 && pages === 0 ? -1 : reltuples;
    return { name: String(row.name), estimate, pages, ancestors: (row.ancestors as string[]).map(String) };
  });
}

/** Counts every table exactly, spread over the given sessions, largest tables first. */
export async function countRowsExactly(sessions: Query[], tables: string[], pagesByTable: Map<string, number> = new Map()): Promise<Record<string, number>> {
  const queue = [...tables].sort((a, b) => (pagesByTable.get(b) ?? 0) - (pagesByTable.get(a) ?? 0));
  const counts: Record<string, number> = {};
  await Promise.all(
    sessions.map(async (query) => {
      for (let table = queue.shift(); table !== undefined; table = queue.shift()) {
        // `table` is already quoted by format('%I.%I') in the catalog query.
        const [row] = await query(`select count(*)::bigint as count from only ${table}`);
        counts[table] = Number(row?.count ?? 0);
      }
    }),
  );
  return counts;
}

/** `public."Orders"` and `public.Orders` name the same table for a person writing a drill file. */
export function looseTableName(name: string): string {
  return name.replaceAll('"', '');
}

/** A table name as written in a drill file: "orders" means public.orders, as in SQL with the default search_path. */
export function qualifiedTableName(name: string): string {
  return looseTableName(name.includes('.') ? name : `public.${name}`);
}
