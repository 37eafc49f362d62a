import { describe, expect, it } from 'vitest';
import { compareFingerprints, summarizeDifferences, withinTolerance, type CompareOptions, type Difference } from '../../../../src/engines/postgres/fingerprint-compare.ts';
import { INVENTORY_CATEGORIES, type Fingerprint, type Inventory, type RowCount } from '../../../../src/engines/postgres/fingerprint.ts';

/** The shop database as the source fingerprint describes it. */
function shopInventory(): Inventory {
  const inventory = Object.fromEntries(INVENTORY_CATEGORIES.map((category) => [category, [] as string[]])) as unknown as Inventory;
  inventory.schemas = ['public'];
  inventory.tables = ['public.audit_log', 'public.orders'];
  inventory.columns = ['public.audit_log.id bigint not null', 'public.orders.id bigint not null', 'public.orders.total numeric'];
  inventory.constraints = ['public.audit_log.audit_log_pkey: PRIMARY KEY (id)', 'public.orders.orders_pkey: PRIMARY KEY (id)'];
  inventory.indexes = [
    'public.audit_log_pkey: CREATE UNIQUE INDEX audit_log_pkey ON public.audit_log USING btree (id)',
    'public.orders_pkey: CREATE UNIQUE INDEX orders_pkey ON public.orders USING btree (id)',
  ];
  inventory.sequences = ['public.orders_id_seq'];
  inventory.largeObjects = 0;
  return inventory;
}

function source(rowCounts: Record<string, RowCount>): Fingerprint {
  return { inventory: shopInventory(), rowCounts };
}

const exactly = (rows: number): RowCount => ({ rows, method: 'exact' });
const estimated = (rows: number): RowCount => ({ rows, method: 'estimate' });

const STRICT: CompareOptions = { tolerance: {}, estimateTolerance: { fraction: 0.1 }, rowCounts: true, schema: true, ignore: [] };

describe('compareFingerprints', () => {
  it('finds no difference between a restore and its own source', () => {
    const differences = compareFingerprints(source({ 'public.orders': exactly(1200) }), { inventory: shopInventory(), rowCounts: { 'public.orders': 1200 } }, STRICT);

    expect(differences).toEqual([]);
  });

  it('reports an object restored with another definition as one change, naming both definitions', () => {
    const restored = shopInventory();
    restored.columns = restored.columns.map((column) => (column === 'public.orders.total numeric' ? 'public.orders.total numeric(10,2)' : column));
    restored.indexes = restored.indexes.map((index) => index.replace('USING btree (id)', 'USING hash (id)').replace('audit_log USING hash', 'audit_log USING btree'));

    const differences = compareFingerprints(source({}), { inventory: restored, rowCounts: {} }, STRICT);

    expect(differences.map((difference) => difference.kind)).toEqual(['changed', 'changed']);
    expect(summarizeDifferences(differences)).toBe(
      '2 differences from the source snapshot: column public.orders.total differs: source numeric, restored numeric(10,2); ' +
        'index public.orders_pkey differs: source CREATE UNIQUE INDEX orders_pkey ON public.orders USING btree (id), ' +
        'restored CREATE UNIQUE INDEX orders_pkey ON public.orders USING hash (id)',
    );
  });

  it('reports a missing and an unexpected item in each category', () => {
    const restored = shopInventory();
    restored.sequences = [];
    restored.indexes = [restored.indexes[0]!];
    restored.views = ['public.order_totals'];

    const differences = compareFingerprints(source({}), { inventory: restored, rowCounts: {} }, STRICT);

    expect(differences).toEqual([
      { kind: 'missing', category: 'indexes', item: 'public.orders_pkey: CREATE UNIQUE INDEX orders_pkey ON public.orders USING btree (id)' },
      { kind: 'missing', category: 'sequences', item: 'public.orders_id_seq' },
      { kind: 'unexpected', category: 'views', item: 'public.order_totals' },
    ]);
  });

  it('reports a table whose row count differs, and one that was not restored at all', () => {
    const differences = compareFingerprints(
      source({ 'public.orders': exactly(1200), 'public.audit_log': exactly(10) }),
      { inventory: shopInventory(), rowCounts: { 'public.orders': 1199 } },
      { ...STRICT, schema: false },
    );

    expect(differences).toEqual([
      { kind: 'rowCount', table: 'public.orders', source: 1200, restored: 1199, method: 'exact' },
      { kind: 'rowCount', table: 'public.audit_log', source: 10, restored: undefined, method: 'exact' },
    ]);
  });

  it('allows a difference within the tolerance in rows, and no more', () => {
    const fingerprint = source({ 'public.orders': exactly(1000) });
    const options = { ...STRICT, tolerance: { rows: 5 } };

    expect(compareFingerprints(fingerprint, { inventory: shopInventory(), rowCounts: { 'public.orders': 1005 } }, options)).toEqual([]);
    expect(compareFingerprints(fingerprint, { inventory: shopInventory(), rowCounts: { 'public.orders': 994 } }, options)).toHaveLength(1);
  });

  it('allows a difference within the tolerance as a fraction of the source count', () => {
    const fingerprint = source({ 'public.orders': exactly(1000) });
    const options = { ...STRICT, tolerance: { fraction: 0.01 } };

    expect(compareFingerprints(fingerprint, { inventory: shopInventory(), rowCounts: { 'public.orders': 990 } }, options)).toEqual([]);
    expect(compareFingerprints(fingerprint, { inventory: shopInventory(), rowCounts: { 'public.orders': 989 } }, options)).toHaveLength(1);
  });

  it('judges estimated counts by the estimate tolerance and exact counts by the exact one', () => {
    const fingerprint = source({ 'public.orders': estimated(1000), 'public.audit_log': exactly(1000) });
    const restored = { inventory: shopInventory(), rowCounts: { 'public.orders': 1080, 'public.audit_log': 1001 } };

    expect(compareFingerprints(fingerprint, restored, STRICT)).toEqual([
      { kind: 'rowCount', table: 'public.audit_log', source: 1000, restored: 1001, method: 'exact' },
    ]);
    expect(compareFingerprints(fingerprint, restored, { ...STRICT, estimateTolerance: { fraction: 0.05 } })).toContainEqual({
      kind: 'rowCount',
      table: 'public.orders',
      source: 1000,
      restored: 1080,
      method: 'estimate',
    });
  });

  it('leaves out an ignored table with its row count, columns, constraints and indexes', () => {
    const restored = shopInventory();
    for (const category of ['tables', 'columns', 'constraints', 'indexes'] as const) {
      restored[category] = restored[category].filter((item) => !item.includes('audit_log'));
    }

    const differences = compareFingerprints(
      source({ 'public.audit_log': exactly(50) }),
      { inventory: restored, rowCounts: {} },
      { ...STRICT, ignore: ['public.audit_log'] },
    );

    expect(differences).toEqual([]);
  });

  it('matches an ignored name whether or not it is quoted', () => {
    const fingerprint: Fingerprint = { inventory: { ...shopInventory(), tables: ['public."Orders"'] }, rowCounts: { 'public."Orders"': exactly(3) } };

    const differences = compareFingerprints(fingerprint, { inventory: shopInventory(), rowCounts: {} }, { ...STRICT, ignore: ['public.Orders'] });

    expect(differences.filter((difference) => difference.kind !== 'unexpected')).toEqual([]);
  });

  it('does not ignore a table whose name merely starts with an ignored name', () => {
    const restored = { ...shopInventory(), tables: ['public.orders'] };

    const differences = compareFingerprints(source({}), { inventory: restored, rowCounts: {} }, { ...STRICT, ignore: ['public.audit'] });

    expect(differences).toEqual([{ kind: 'missing', category: 'tables', item: 'public.audit_log' }]);
  });

  it('reports a different number of large objects', () => {
    const differences = compareFingerprints(source({}), { inventory: { ...shopInventory(), largeObjects: 2 }, rowCounts: {} }, STRICT);

    expect(differences).toEqual([{ kind: 'largeObjects', source: 0, restored: 2 }]);
  });

  it('compares neither counts nor schema when both are switched off', () => {
    const differences = compareFingerprints(
      source({ 'public.orders': exactly(1200) }),
      { inventory: { ...shopInventory(), tables: [], largeObjects: 9 }, rowCounts: {} },
      { ...STRICT, rowCounts: false, schema: false },
    );

    expect(differences).toEqual([]);
  });
});

describe('withinTolerance', () => {
  it('allows the larger of the row and fraction tolerances', () => {
    expect(withinTolerance(1000, 1020, { rows: 20, fraction: 0.01 })).toBe(true);
    expect(withinTolerance(10_000, 10_100, { rows: 20, fraction: 0.01 })).toBe(true);
    expect(withinTolerance(10_000, 10_101, { rows: 20, fraction: 0.01 })).toBe(false);
  });
});

describe('summarizeDifferences', () => {
  const differences: Difference[] = [
    { kind: 'rowCount', table: 'public.orders', source: 1200, restored: 0, method: 'exact' },
    { kind: 'rowCount', table: 'public.events', source: 5000, restored: 4000, method: 'estimate' },
    { kind: 'missing', category: 'materializedViews', item: 'public.daily_totals' },
    { kind: 'unexpected', category: 'indexes', item: 'public.x: CREATE INDEX x ON public.orders USING btree (total)' },
    { kind: 'largeObjects', source: 3, restored: 1 },
  ];

  it('describes each difference in words', () => {
    expect(summarizeDifferences(differences)).toBe(
      '5 differences from the source snapshot: public.orders has 0 rows, source had 1200; ' +
        'public.events has 4000 rows, source had 5000 (estimated); ' +
        'missing materialized view public.daily_totals; ' +
        'unexpected index public.x: CREATE INDEX x ON public.orders USING btree (total); ' +
        '1 large objects, source had 3',
    );
  });

  it('lists at most the limit and counts the rest', () => {
    expect(summarizeDifferences(differences, 2)).toBe(
      '5 differences from the source snapshot: public.orders has 0 rows, source had 1200; public.events has 4000 rows, source had 5000 (estimated); and 3 more',
    );
  });

  it('names a table that was not restored at all, with its source count', () => {
    const summary = summarizeDifferences([{ kind: 'rowCount', table: 'public.events', source: 5000, restored: undefined, method: 'exact' }]);

    expect(summary).toMatch(/^1 difference from the source snapshot: public\.events .*missing.*5000/);
  });

  it('uses the singular for one difference', () => {
    expect(summarizeDifferences([{ kind: 'missing', category: 'schemas', item: 'billing' }])).toBe('1 difference from the source snapshot: missing schema billing');
  });
});
