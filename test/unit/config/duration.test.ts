import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../../src/config/duration.ts';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['30s', 30 * SECOND],
    ['10m', 10 * MINUTE],
    ['26h', 26 * HOUR],
    ['2d', 2 * DAY],
    ['1h30m', HOUR + 30 * MINUTE],
    ['1.5h', 90 * MINUTE],
    ['0s', 0],
  ])('reads %s as %i milliseconds', (text, milliseconds) => {
    expect(parseDuration(text)).toBe(milliseconds);
  });

  it('ignores whitespace around and between the number and its unit', () => {
    expect(parseDuration(' 10 m')).toBe(10 * MINUTE);
    expect(parseDuration('1h 30m ')).toBe(HOUR + 30 * MINUTE);
  });

  it('refuses a bare number, since "10" could mean seconds or minutes', () => {
    expect(parseDuration('10')).toBeUndefined();
  });

  it.each(['abc', '', '10x', 'm10', '1h30', '-5m', '10 minutes'])('refuses %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});

describe('formatDuration', () => {
  it('shows sub-second values in milliseconds', () => {
    expect(formatDuration(0)).toBe('0ms');
    expect(formatDuration(999)).toBe('999ms');
  });

  it('shows seconds with one decimal below ten seconds and whole seconds above', () => {
    expect(formatDuration(1_500)).toBe('1.5s');
    expect(formatDuration(2_000)).toBe('2s');
    expect(formatDuration(42_400)).toBe('42s');
  });

  it('combines hours, minutes and seconds, leaving out the zero parts', () => {
    expect(formatDuration(10 * MINUTE)).toBe('10m');
    expect(formatDuration(HOUR + 30 * MINUTE)).toBe('1h 30m');
    expect(formatDuration(HOUR + 5 * SECOND)).toBe('1h 5s');
  });

  it('shows hours rather than days under two days: 26h, not 1d 2h', () => {
    expect(formatDuration(26 * HOUR)).toBe('26h');
    expect(formatDuration(47 * HOUR + 59 * MINUTE)).toBe('47h 59m');
  });

  it('shows days from two days on', () => {
    expect(formatDuration(2 * DAY)).toBe('2d');
    expect(formatDuration(3 * DAY + 4 * HOUR + 5 * MINUTE)).toBe('3d 4h 5m');
  });

  it('keeps the sign of a negative duration', () => {
    expect(formatDuration(-90 * SECOND)).toBe('-1m 30s');
  });

  it('formats what parseDuration reads back to the same text', () => {
    for (const text of ['500ms', '30s', '10m', '26h', '7d']) expect(formatDuration(parseDuration(text)!)).toBe(text);
  });
});
