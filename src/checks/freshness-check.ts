import { z } from 'zod';
import type { CheckContext, CheckOutcome } from '../interfaces.ts';
import { durationSchema } from '../config/common.ts';
import { formatDuration } from '../config/duration.ts';
import { BaseCheck, commonCheckFields } from './base-check.ts';
import { showValue } from './expectation.ts';

export const freshnessCheckSchema = z
  .strictObject({
    type: z.literal('freshness').describe('How old the newest restored data was when the backup was taken.'),
    ...commonCheckFields('60s'),
    query: z.string().min(1).describe('One statement returning the newest timestamp in the data, e.g. select max(created_at) from orders.'),
    maxAge: durationSchema('Fail when the newest data was older than this at the snapshot. (Default: no limit; objectives.rpo still applies)').optional(),
  })
  .describe(
    "Measures the data's age: the snapshot time minus the newest timestamp the query finds. " +
      'It also feeds the measured RPO. A timestamp without time zone is read as UTC.',
  );

export type FreshnessCheckConfig = z.output<typeof freshnessCheckSchema>;

export class FreshnessCheck extends BaseCheck<FreshnessCheckConfig> {
  async run(context: CheckContext): Promise<CheckOutcome> {
    const result = await context.database.query(this.config.query);
    const value = result.rows[0] ? Object.values(result.rows[0])[0] : undefined;
    const newest = toTimestamp(value);
    if (newest === undefined) {
      return {
        status: 'failed',
        message:
          value === null || value === undefined
            ? 'the query found no timestamp (no rows, or null): the restored data may be empty'
            : `expected a timestamp, got ${showValue(value)}`,
      };
    }
    const snapshotAt = new Date(context.target.snapshotAt);
    const ageMs = Math.max(0, snapshotAt.getTime() - newest.getTime());
    const details = { newestDataAt: newest.toISOString(), snapshotAt: snapshotAt.toISOString(), dataAgeAtSnapshotSeconds: Math.round(ageMs / 1000) };
    const described = `newest data ${newest.toISOString()} was ${formatDuration(ageMs)} old at the snapshot`;
    if (this.config.maxAge !== undefined && ageMs > this.config.maxAge) {
      return { status: 'failed', message: `${described}; allowed at most ${formatDuration(this.config.maxAge)}`, details, newestDataAt: newest };
    }
    return { status: 'passed', message: described, details, newestDataAt: newest };
  }
}

function toTimestamp(value: unknown): Date | undefined {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value;
  if (typeof value === 'string' && value.trim() !== '') {
    const parsed = new Date(value);
    return Number.isNaN(parsed.getTime()) ? undefined : parsed;
  }
  return undefined;
}
