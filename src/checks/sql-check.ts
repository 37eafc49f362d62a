import { z } from 'zod';
import type { CheckContext, CheckOutcome } from '../interfaces.ts';
import { BaseCheck, commonCheckFields } from './base-check.ts';
import { evaluateExpectation, expectationSchema } from './expectation.ts';

export const sqlCheckSchema = z
  .strictObject({
    type: z.literal('sql').describe('A query on the restored database and what its single value must be.'),
    ...commonCheckFields('60s'),
    query: z.string().min(1).describe('One statement returning one value (one row, one column), run in a read-only transaction.'),
    expect: expectationSchema.optional(),
  })
  .describe('Runs a query on the restored database and checks its value.');

export type SqlCheckConfig = z.output<typeof sqlCheckSchema>;

export class SqlCheck extends BaseCheck<SqlCheckConfig> {
  async run(context: CheckContext): Promise<CheckOutcome> {
    const result = await context.database.query(this.config.query);
    const row = result.rows[0];
    if (row === undefined) return { status: 'failed', message: 'the query returned no rows; expected one row with one value' };
    if (result.fields.length !== 1) {
      return { status: 'failed', message: `the query returned ${result.fields.length} columns; expected one value (one row, one column)` };
    }
    if (result.rows.length > 1) {
      return { status: 'failed', message: `the query returned ${result.rows.length} rows; expected one value (one row, one column)` };
    }
    const value = row[(result.fields[0] as { name: string }).name];
    const verdict = evaluateExpectation(value, this.config.expect);
    return { status: verdict.passed ? 'passed' : 'failed', message: verdict.message };
  }
}
