import { describe, expect, it } from 'vitest';
import { interpolate } from '../../../src/config/interpolate.ts';

describe('interpolate', () => {
  it('replaces ${VAR} with the variable from the given environment', () => {
    const result = interpolate({ url: 'postgres://backup@${DB_HOST}:5432/orders' }, { DB_HOST: 'db.internal' });

    expect(result).toEqual({ value: { url: 'postgres://backup@db.internal:5432/orders' }, problems: [] });
  });

  it('uses the default of ${VAR:-default} when the variable is not set', () => {
    expect(interpolate('${PORT:-5432}', {}).value).toBe('5432');
  });

  it('uses the default of ${VAR:-default} when the variable is empty, as the shell does', () => {
    expect(interpolate('${PORT:-5432}', { PORT: '' }).value).toBe('5432');
  });

  it('prefers a set variable to the default', () => {
    expect(interpolate('${PORT:-5432}', { PORT: '6543' }).value).toBe('6543');
  });

  it('allows an empty default', () => {
    expect(interpolate('prefix-${SUFFIX:-}', {})).toEqual({ value: 'prefix-', problems: [] });
  });

  it('keeps an empty variable without a default as empty, not missing', () => {
    expect(interpolate('[${EMPTY}]', { EMPTY: '' })).toEqual({ value: '[]', problems: [] });
  });

  it('writes a literal ${ for $${', () => {
    expect(interpolate('cost: $${AMOUNT}', { AMOUNT: '5' })).toEqual({ value: 'cost: ${AMOUNT}', problems: [] });
  });

  it('reports a missing variable with the key path of the value that uses it, and names the variable', () => {
    const result = interpolate({ source: { url: '${ORDERS_URL}' } }, {});

    expect(result.problems).toEqual([
      { path: ['source', 'url'], message: 'environment variable ORDERS_URL is not set (used as ${ORDERS_URL}; set it, or write ${ORDERS_URL:-default})' },
    ]);
    // The reference is left as written, so nothing half-resolved is mistaken for a value.
    expect(result.value).toEqual({ source: { url: '${ORDERS_URL}' } });
  });

  it('reports every missing variable, with array indexes in the path', () => {
    const tree = { checks: [{ query: 'select 1' }, { query: 'select * from ${SCHEMA}.${TABLE}' }] };

    const result = interpolate(tree, { SCHEMA: 'public' });

    expect(result.problems.map((problem) => problem.path)).toEqual([['checks', 1, 'query']]);
    expect(result.problems[0]?.message).toContain('TABLE');
    expect(result.value).toEqual({ checks: [{ query: 'select 1' }, { query: 'select * from public.${TABLE}' }] });
  });

  it('interpolates strings in nested arrays and objects and leaves other values alone', () => {
    const tree = { a: [1, true, null, ['${X}', { b: '${X}-${Y}' }]], c: 2.5 };

    expect(interpolate(tree, { X: 'x', Y: 'y' })).toEqual({ value: { a: [1, true, null, ['x', { b: 'x-y' }]], c: 2.5 }, problems: [] });
  });

  it('never lets a value change the structure of the file, since it is substituted after parsing', () => {
    const result = interpolate({ description: '${TEXT}' }, { TEXT: 'x\nsource: { type: evil }' });

    expect(result.value).toEqual({ description: 'x\nsource: { type: evil }' });
  });

  it('leaves a lone $ and text without references untouched', () => {
    expect(interpolate('$HOME costs $5 and {braces}', {}).value).toBe('$HOME costs $5 and {braces}');
  });
});
