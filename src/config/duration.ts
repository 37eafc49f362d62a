/**
 * Durations as people write them in YAML: `500ms`, `30s`, `10m`, `26h`, `7d`,
 * or combined, `1h30m`. A bare number is refused: "10" could mean anything.
 */

const UNIT_MILLISECONDS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/g;
const WHOLE = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/;

export const DURATION_EXAMPLES = '30s, 10m, 26h or 1h30m';

/** Returns milliseconds, or undefined when the text is not a duration. */
export function parseDuration(text: string): number | undefined {
  const compact = text.trim().replace(/\s+/g, '');
  if (!WHOLE.test(compact)) return undefined;
  let total = 0;
  for (const [, amount, unit] of compact.matchAll(PART)) {
    total += Number(amount) * UNIT_MILLISECONDS[unit as keyof typeof UNIT_MILLISECONDS];
  }
  return Math.round(total);
}

/** `93600000` → `26h`, `266461000` → `3d 2h 1m 1s`; sub-second values keep milliseconds. */
export function formatDuration(milliseconds: number): string {
  if (!Number.isFinite(milliseconds)) return String(milliseconds);
  const sign = milliseconds < 0 ? '-' : '';
  let rest = Math.abs(Math.round(milliseconds));
  if (rest < 1_000) return `${sign}${rest}ms`;
  if (rest < 60_000) return `${sign}${(rest / 1_000).toFixed(rest < 10_000 ? 1 : 0).replace(/\.0$/, '')}s`;
  const parts: string[] = [];
  // Up to two days, hours read better than days: an RPO of "26h" rather than "1d 2h".
  const units = rest < 2 * UNIT_MILLISECONDS.d ? (['h', 'm', 's'] as const) : (['d', 'h', 'm', 's'] as const);
  for (const unit of units) {
    const size = UNIT_MILLISECONDS[unit];
    const count = Math.floor(rest / size);
    if (count > 0) parts.push(`${count}${unit}`);
    rest -= count * size;
  }
  return sign + parts.join(' ');
}
