import { describe, expect, it } from 'vitest';
import { evaluateExpectation, showValue, toNumber } from '../../../src/checks/expectation.ts';

describe('evaluateExpectation', () => {
  describe('without an expectation', () => {
    it('passes when the query returns true', () => {
      expect(evaluateExpectation(true, undefined)).toEqual({ passed: true, message: 'returned true' });
    });

    it('fails on false, null, or anything that merely looks true', () => {
      expect(evaluateExpectation(false, undefined)).toEqual({ passed: false, message: 'expected true, got false' });
      expect(evaluateExpectation(null, undefined)).toEqual({ passed: false, message: 'expected true, got null' });
      expect(evaluateExpectation(1, undefined).passed).toBe(false);
      expect(evaluateExpectation('t', undefined).passed).toBe(false);
    });
  });

  describe('equals', () => {
    it('compares a number with the string pg returns for bigint as numbers', () => {
      expect(evaluateExpectation('1200', { equals: 1200 })).toEqual({ passed: true, message: 'returned 1200' });
      expect(evaluateExpectation('1199', { equals: 1200 })).toEqual({ passed: false, message: 'expected 1200, got 1199' });
    });

    it('compares a number with a number and a bigint', () => {
      expect(evaluateExpectation(1200, { equals: 1200 }).passed).toBe(true);
      expect(evaluateExpectation(1200n, { equals: 1200 }).passed).toBe(true);
    });

    it('compares strings as text', () => {
      expect(evaluateExpectation('shipped', { equals: 'shipped' }).passed).toBe(true);
      expect(evaluateExpectation('pending', { equals: 'shipped' })).toEqual({
        passed: false,
        message: 'expected "shipped", got a 7-character text value (not shown)',
      });
    });

    it('compares booleans only with booleans', () => {
      expect(evaluateExpectation(true, { equals: true }).passed).toBe(true);
      expect(evaluateExpectation(false, { equals: true })).toEqual({ passed: false, message: 'expected true, got false' });
      expect(evaluateExpectation('true', { equals: true }).passed).toBe(false);
    });

    it('compares a timestamp by its ISO form', () => {
      const value = new Date('2024-05-01T03:00:00.000Z');
      expect(evaluateExpectation(value, { equals: '2024-05-01T03:00:00.000Z' }).passed).toBe(true);
    });

    it('never treats null as equal to anything', () => {
      expect(evaluateExpectation(null, { equals: 'null' }).passed).toBe(false);
      expect(evaluateExpectation(null, { equals: 0 }).passed).toBe(false);
    });
  });

  describe('min, max and between', () => {
    it('passes a number on or inside its bounds', () => {
      expect(evaluateExpectation('1000', { min: 1000 }).passed).toBe(true);
      expect(evaluateExpectation(5, { max: 5 }).passed).toBe(true);
      expect(evaluateExpectation(3, { between: [1, 5] }).passed).toBe(true);
      expect(evaluateExpectation(1, { between: [1, 5] }).passed).toBe(true);
    });

    it('fails a number outside its bounds and says what was expected', () => {
      expect(evaluateExpectation(999, { min: 1000 })).toEqual({ passed: false, message: 'expected at least 1000, got 999' });
      expect(evaluateExpectation(6, { max: 5 })).toEqual({ passed: false, message: 'expected at most 5, got 6' });
      expect(evaluateExpectation('0', { between: [1, 5] })).toEqual({ passed: false, message: 'expected between 1 and 5, got 0' });
    });

    it('fails a value that is not a number, without showing its text', () => {
      expect(evaluateExpectation('ten', { min: 1 })).toEqual({
        passed: false,
        message: 'expected at least 1, got non-numeric a 3-character text value (not shown)',
      });
      expect(evaluateExpectation(null, { max: 1 }).passed).toBe(false);
      expect(evaluateExpectation('', { min: 0 }).passed).toBe(false);
    });
  });

  describe('notNull', () => {
    it('fails on null and passes on any value, zero and false included', () => {
      expect(evaluateExpectation(null, { notNull: true })).toEqual({ passed: false, message: 'expected a value, got null' });
      expect(evaluateExpectation(0, { notNull: true }).passed).toBe(true);
      expect(evaluateExpectation(false, { notNull: true }).passed).toBe(true);
    });
  });

  describe('matches', () => {
    it('tests the value as text against the regular expression', () => {
      expect(evaluateExpectation('ord-000123', { matches: '^ord-\\d+$' }).passed).toBe(true);
      expect(evaluateExpectation(42, { matches: '^\\d+$' }).passed).toBe(true);
    });

    it('fails a value that does not match, and null, without showing the text', () => {
      expect(evaluateExpectation('customer@example.com', { matches: '^ord-' })).toEqual({
        passed: false,
        message: 'expected a value matching /^ord-/, got a 20-character text value (not shown)',
      });
      expect(evaluateExpectation(null, { matches: '.*' }).passed).toBe(false);
    });
  });

  it('joins several failures into one message', () => {
    expect(evaluateExpectation(null, { notNull: true, min: 1 })).toEqual({
      passed: false,
      message: 'expected a value, got null; expected at least 1, got non-numeric null',
    });
    expect(evaluateExpectation(7, { equals: 5, between: [1, 3] })).toEqual({
      passed: false,
      message: 'expected 5, got 7; expected between 1 and 3, got 7',
    });
  });

  it('passes only when every condition holds', () => {
    expect(evaluateExpectation('1200', { notNull: true, min: 1000, max: 2000, between: [1, 5000], equals: 1200, matches: '^12' })).toEqual({
      passed: true,
      message: 'returned 1200',
    });
  });
});

describe('showValue', () => {
  it('shows numbers, numeric strings, booleans, null and timestamps', () => {
    expect(showValue(42)).toBe('42');
    expect(showValue('1200')).toBe('1200');
    expect(showValue(12n)).toBe('12');
    expect(showValue(false)).toBe('false');
    expect(showValue(undefined)).toBe('null');
    expect(showValue(new Date('2024-05-01T03:00:00Z'))).toBe('2024-05-01T03:00:00.000Z');
  });

  it('never shows the text of a string or the contents of an object: reports carry metadata, not row data', () => {
    expect(showValue('Jane Doe, 12 High Street')).toBe('a 24-character text value (not shown)');
    expect(showValue({ card: '4111 1111 1111 1111' })).toBe('a value of type object (not shown)');
    expect(showValue(['secret'])).toBe('a value of type object (not shown)');
  });
});

describe('toNumber', () => {
  it('reads numbers, bigints and numeric strings, and nothing else', () => {
    expect(toNumber(' 12.5 ')).toBe(12.5);
    expect(toNumber(3n)).toBe(3);
    expect(toNumber('')).toBeUndefined();
    expect(toNumber('12abc')).toBeUndefined();
    expect(toNumber(Number.NaN)).toBeUndefined();
    expect(toNumber(true)).toBeUndefined();
  });
});
