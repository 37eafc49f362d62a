import { describe, expect, it } from 'vitest';
import { planRowCounts } from '../../../../src/engines/postgres/source-fingerprint.ts';
import type { CountableTable } from '../../../../src/engines/postgres/fingerprint.ts';

const table = (name: string, estimate: number, ancestors: string[] = []): CountableTable => ({
  name,
  estimate,
  pages: Math.max(0, Math.ceil(estimate / 100)),
  filenode: '16384',
  ancestors,
});

const SHOP: CountableTable[] = [table('public.orders', 1200), table('public.events', 5_000_000.4), table('audit.log', 300), table('public."Customers"', 80)];

describe('planRowCounts', () => {
  it('counts every table exactly by default', () => {
    expect(planRowCounts(SHOP, { rowCounts: 'exact' })).toEqual({
      exact: ['public.orders', 'public.events', 'audit.log', 'public."Customers"'],
      estimated: {},
      unknown: [],
    });
  });

  it('records nothing when row counts are off', () => {
    expect(planRowCounts(SHOP, { rowCounts: 'off', tables: ['nonexistent'] })).toEqual({ exact: [], estimated: {}, unknown: [] });
  });

  it('reads the planner\'s estimates, rounded to whole rows, in estimate mode', () => {
    expect(planRowCounts(SHOP, { rowCounts: 'estimate' })).toEqual({
      exact: [],
      estimated: { 'public.orders': 1200, 'public.events': 5_000_000, 'audit.log': 300, 'public."Customers"': 80 },
      unknown: [],
    });
  });

  it('counts a never-analyzed table exactly even in estimate mode, since it has no estimate', () => {
    const plan = planRowCounts([table('public.orders', 1200), table('public.new_table', -1)], { rowCounts: 'estimate' });

    expect(plan).toEqual({ exact: ['public.new_table'], estimated: { 'public.orders': 1200 }, unknown: [] });
  });

  it('counts only the listed tables exactly, reading an unqualified name as public, and estimates the rest', () => {
    const plan = planRowCounts(SHOP, { rowCounts: 'exact', tables: ['orders', 'audit.log'] });

    expect(plan).toEqual({ exact: ['public.orders', 'audit.log'], estimated: { 'public.events': 5_000_000, 'public."Customers"': 80 }, unknown: [] });
  });

  it('matches a listed name to a quoted table name, with or without the quotes', () => {
    expect(planRowCounts(SHOP, { rowCounts: 'exact', tables: ['Customers'] }).exact).toEqual(['public."Customers"']);
    expect(planRowCounts(SHOP, { rowCounts: 'exact', tables: ['public."Customers"'] }).exact).toEqual(['public."Customers"']);
  });

  it('reports listed tables the source does not have', () => {
    const plan = planRowCounts(SHOP, { rowCounts: 'exact', tables: ['orders', 'ordrs', 'audit.logs'] });

    expect(plan.unknown).toEqual(['public.ordrs', 'audit.logs']);
  });

  it('estimates tables the planner puts above estimateAbove and counts the rest', () => {
    const plan = planRowCounts(SHOP, { rowCounts: 'exact', estimateAbove: 1200 });

    // 1200 is not above 1200: it is still counted.
    expect(plan).toEqual({ exact: ['public.orders', 'audit.log', 'public."Customers"'], estimated: { 'public.events': 5_000_000 }, unknown: [] });
  });

  it('counts a never-analyzed table exactly whatever estimateAbove says', () => {
    const plan = planRowCounts([table('public.fresh', -1)], { rowCounts: 'exact', estimateAbove: 0 });

    expect(plan.exact).toEqual(['public.fresh']);
  });

  it('estimates a listed table when it is above estimateAbove', () => {
    const plan = planRowCounts(SHOP, { rowCounts: 'exact', tables: ['events', 'orders'], estimateAbove: 10_000 });

    expect(plan.exact).toEqual(['public.orders']);
    expect(Object.keys(plan.estimated).sort()).toEqual(['audit.log', 'public."Customers"', 'public.events']);
  });
});
