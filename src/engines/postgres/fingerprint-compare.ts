import { INVENTORY_CATEGORIES, looseTableName, qualifiedTableName, type Fingerprint, type Inventory, type InventoryCategory } from './fingerprint.ts';

/** Comparing a restored database with the fingerprint the manifest holds. Pure: unit-tested on its own. */

export interface Tolerance {
  /** Allowed difference in rows, as a fraction of the source count (0.01 for 1%) ... */
  fraction?: number;
  /** ... or as a number of rows. */
  rows?: number;
}

export interface CompareOptions {
  /** For tables counted exactly at the source. (Default: none, counts must match) */
  tolerance: Tolerance;
  /** For tables whose source count is the planner's estimate. */
  estimateTolerance: Tolerance;
  rowCounts: boolean;
  schema: boolean;
  /** Tables (with their columns, constraints and indexes) or other objects to leave out, by qualified name. */
  ignore: string[];
}

export type Difference =
  | { kind: 'missing' | 'unexpected'; category: InventoryCategory; item: string }
  | { kind: 'changed'; category: InventoryCategory; source: string; restored: string }
  | { kind: 'rowCount'; table: string; source: number; restored: number | undefined; method: 'exact' | 'estimate' }
  | { kind: 'largeObjects'; source: number; restored: number };

const SINGULAR: Record<InventoryCategory, string> = {
  schemas: 'schema',
  types: 'type',
  policies: 'row-level security policy',
  rowSecurity: 'row-level security on table',
  tables: 'table',
  columns: 'column',
  indexes: 'index',
  constraints: 'constraint',
  sequences: 'sequence',
  views: 'view',
  materializedViews: 'materialized view',
  functions: 'function',
  triggers: 'trigger',
  extensions: 'extension',
};

export function compareFingerprints(
  source: Fingerprint,
  restored: { inventory: Inventory; rowCounts: Record<string, number> },
  options: CompareOptions,
): Difference[] {
  // "orders" means public.orders, as in `backup.fingerprint.tables`; written as is, it also matches an extension or schema name.
  const ignoredNames = options.ignore.flatMap((name) => [qualifiedTableName(name), looseTableName(name)]);
  // A table's columns, constraints and indexes go with it: `public.t.col`, `public.t.con: ...`, `... ON public.t USING ...`.
  const ignored = (item: string) => {
    const loose = looseTableName(item);
    return ignoredNames.some(
      (name) =>
        loose === name ||
        loose.startsWith(`${name}.`) ||
        loose.startsWith(`${name}:`) ||
        loose.startsWith(`${name} `) ||
        loose.includes(` ON ${name} `) ||
        loose.includes(` ONLY ${name} `),
    );
  };
  const differences: Difference[] = [];

  if (options.rowCounts) {
    for (const [table, expected] of Object.entries(source.rowCounts)) {
      // A table rewritten while the backup ran was counted from a file the snapshot never saw: nothing to compare.
      if (ignored(table) || expected.method === 'uncertain') continue;
      const actual = restored.rowCounts[table];
      const tolerance = expected.method === 'estimate' ? options.estimateTolerance : options.tolerance;
      if (actual === undefined || !withinTolerance(expected.rows, actual, tolerance)) {
        differences.push({ kind: 'rowCount', table, source: expected.rows, restored: actual, method: expected.method });
      }
    }
  }

  if (options.schema) {
    for (const category of INVENTORY_CATEGORIES) {
      const sourceList = source.inventory[category];
      // A manifest written before firedrill inventoried this category: nothing to compare with.
      if (sourceList === undefined) continue;
      const restoredItems = new Set(restored.inventory[category]);
      const sourceItems = new Set(sourceList);
      const missing = sourceList.filter((item) => !restoredItems.has(item) && !ignored(item));
      const unexpected = restored.inventory[category].filter((item) => !sourceItems.has(item) && !ignored(item));
      // The same object on both sides with another definition is one change, not a loss and a surprise.
      const unexpectedByName = new Map(unexpected.map((item) => [objectName(item), item]));
      for (const item of missing) {
        const counterpart = unexpectedByName.get(objectName(item));
        if (counterpart === undefined) {
          differences.push({ kind: 'missing', category, item });
        } else {
          differences.push({ kind: 'changed', category, source: item, restored: counterpart });
          unexpectedByName.delete(objectName(item));
        }
      }
      for (const item of unexpectedByName.values()) differences.push({ kind: 'unexpected', category, item });
    }
    if (source.inventory.largeObjects !== restored.inventory.largeObjects) {
      differences.push({ kind: 'largeObjects', source: source.inventory.largeObjects, restored: restored.inventory.largeObjects });
    }
  }
  return differences;
}

/** `public.orders_pkey: CREATE ...` and `public.orders.total numeric not null` are named by what precedes the definition. */
function objectName(item: string): string {
  const colon = item.indexOf(': ');
  if (colon >= 0) return item.slice(0, colon);
  const space = item.indexOf(' ');
  return space >= 0 ? item.slice(0, space) : item;
}

export function withinTolerance(expected: number, actual: number, tolerance: Tolerance): boolean {
  const allowed = Math.max(tolerance.rows ?? 0, (tolerance.fraction ?? 0) * expected);
  return Math.abs(actual - expected) <= allowed;
}

export function describeDifference(difference: Difference): string {
  switch (difference.kind) {
    case 'rowCount': {
      const estimated = difference.method === 'estimate' ? ' (estimated)' : '';
      if (difference.restored === undefined) return `${difference.table} is missing, source had ${difference.source} rows${estimated}`;
      return `${difference.table} has ${difference.restored} rows, source had ${difference.source}${estimated}`;
    }
    case 'largeObjects':
      return `${difference.restored} large objects, source had ${difference.source}`;
    case 'changed':
      return `${SINGULAR[difference.category]} ${objectName(difference.source)} differs: source ${definitionOf(difference.source)}, restored ${definitionOf(difference.restored)}`;
    default:
      return `${difference.kind === 'missing' ? 'missing' : 'unexpected'} ${SINGULAR[difference.category]} ${difference.item}`;
  }
}

function definitionOf(item: string): string {
  return item.slice(objectName(item).length).replace(/^:? /, '');
}

/** "2 differences: public.orders has 0 rows, source had 1200; missing index ..." with at most `limit` listed. */
export function summarizeDifferences(differences: Difference[], limit = 10): string {
  const listed = differences.slice(0, limit).map(describeDifference);
  const more = differences.length > limit ? `; and ${differences.length - limit} more` : '';
  const noun = differences.length === 1 ? 'difference' : 'differences';
  return `${differences.length} ${noun} from the source snapshot: ${listed.join('; ')}${more}`;
}
