import { z } from 'zod';

/**
 * What a `sql` check expects of the single value its query returns. Pure
 * functions, unit-tested on their own. Messages show numbers, booleans and
 * nulls, but never the text of a string value: a report carries metadata,
 * not row data.
 */

export const expectationSchema = z
  .strictObject({
    equals: z.union([z.string(), z.number(), z.boolean()]).optional().describe('The value must equal this (numbers compare as numbers).'),
    min: z.number().optional().describe('The value must be a number at least this large.'),
    max: z.number().optional().describe('The value must be a number at most this large.'),
    between: z.tuple([z.number(), z.number()]).optional().describe('The value must be a number within [low, high], inclusive.'),
    notNull: z.boolean().optional().describe('true: the value must not be null.'),
    matches: z
      .string()
      .refine(isValidRegex, { error: 'expected a valid regular expression' })
      .optional()
      .describe('The value, as text, must match this regular expression.'),
  })
  .refine((expectation) => Object.values(expectation).some((value) => value !== undefined), {
    error: 'expected at least one of: equals, min, max, between, notNull, matches',
  })
  .describe('Conditions on the value; all must hold. Without `expect`, the query must return true.');

export type Expectation = z.output<typeof expectationSchema>;

export interface Verdict {
  passed: boolean;
  /** What was found and, on failure, what was expected. */
  message: string;
}

export function evaluateExpectation(value: unknown, expectation: Expectation | undefined): Verdict {
  const shown = showValue(value);
  if (expectation === undefined) {
    const isTrue = value === true;
    return { passed: isTrue, message: isTrue ? 'returned true' : `expected true, got ${shown}` };
  }
  const failures: string[] = [];
  const number = toNumber(value);
  const needNumber = (what: string) => failures.push(`expected ${what}, got ${number === undefined ? `non-numeric ${shown}` : shown}`);

  if (expectation.notNull && (value === null || value === undefined)) failures.push('expected a value, got null');
  if (expectation.equals !== undefined && !equals(value, expectation.equals)) failures.push(`expected ${JSON.stringify(expectation.equals)}, got ${shown}`);
  if (expectation.min !== undefined && !(number !== undefined && number >= expectation.min)) needNumber(`at least ${expectation.min}`);
  if (expectation.max !== undefined && !(number !== undefined && number <= expectation.max)) needNumber(`at most ${expectation.max}`);
  if (expectation.between !== undefined) {
    const [low, high] = expectation.between;
    if (!(number !== undefined && number >= low && number <= high)) needNumber(`between ${low} and ${high}`);
  }
  if (expectation.matches !== undefined && !(value !== null && value !== undefined && new RegExp(expectation.matches).test(textOf(value)))) {
    failures.push(`expected a value matching /${expectation.matches}/, got ${shown}`);
  }
  return failures.length === 0 ? { passed: true, message: `returned ${shown}` } : { passed: false, message: failures.join('; ') };
}

/** pg returns bigint and numeric as strings: "1200" is the number 1200 here. */
export function toNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  return undefined;
}

function equals(value: unknown, expected: string | number | boolean): boolean {
  if (typeof expected === 'number') return toNumber(value) === expected;
  if (typeof expected === 'boolean') return value === expected;
  if (value instanceof Date) return value.toISOString() === expected;
  return value !== null && value !== undefined && textOf(value) === expected;
}

/** Numbers, booleans, null and timestamps are shown; strings only by their length. */
export function showValue(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'boolean' || typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'string') return toNumber(value) !== undefined ? value : `a ${value.length}-character text value (not shown)`;
  return `a value of type ${typeof value} (not shown)`;
}

/** The value as PostgreSQL would print it, near enough: JSON for json/arrays, text otherwise. */
function textOf(value: unknown): string {
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'object') return JSON.stringify(value);
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return value.toString();
  return typeof value;
}

function isValidRegex(pattern: string): boolean {
  try {
    new RegExp(pattern);
    return true;
  } catch {
    return false;
  }
}
