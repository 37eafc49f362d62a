import { describe, expect, it } from 'vitest';
import { splitQualifiedName } from '../../../src/gameday/defects/table-data-missing.ts';

/** The fingerprint's table keys are quoted as format('%I.%I') quotes them; pg_restore's list prints names bare. */
describe('splitQualifiedName', () => {
  it('unquotes what needed quotes, and leaves plain names alone', () => {
    expect(splitQualifiedName('public.orders')).toEqual(['public', 'orders']);
    expect(splitQualifiedName('public."Order Items"')).toEqual(['public', 'Order Items']);
    expect(splitQualifiedName('"my schema"."a.b"')).toEqual(['my schema', 'a.b']);
    expect(splitQualifiedName('"quo""ted".t')).toEqual(['quo"ted', 't']);
  });
});
