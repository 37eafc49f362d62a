import { z } from 'zod';
import type { CheckContext, CheckOutcome } from '../interfaces.ts';
import { BaseCheck, commonCheckFields } from './base-check.ts';
import { nameSchema } from '../config/common.ts';
import { RestoredTree } from '../engines/files/restored-path.ts';

export const referencesCheckSchema = z
  .strictObject({
    type: z.literal('references').describe('Paths a query on a restored database returns must exist among the restored files.'),
    ...commonCheckFields('10m'),
    files: nameSchema.describe('The files target the paths are relative to (a key of targets).'),
    query: z
      .string()
      .min(1)
      .describe(
        'One statement whose first column is a path relative to the files target\'s restore directory, e.g. "select path from attachments". ' +
          'Rows are read in batches, so it may return millions; NULL paths are not checked.',
      ),
  })
  .describe('Every file the database refers to was restored: the database and its files still fit each other.');

export type ReferencesCheckConfig = z.output<typeof referencesCheckSchema>;

/** Rows fetched per round trip: memory stays flat whatever the table's size. */
const BATCH_ROWS = 5_000;
/** Missing paths named in the message; the rest are counted. */
const SHOWN = 5;

export class ReferencesCheck extends BaseCheck<ReferencesCheckConfig> {
  async run(context: CheckContext): Promise<CheckOutcome> {
    const files = context.otherTarget(this.config.files).restored;
    if (files.kind !== 'files') throw new Error(`target "${this.config.files}" is not a files target`);
    const query = this.config.query.trim().replace(/;+\s*$/, '');
    // A cursor inside the check's read-only transaction: the rows come in batches, never all at once.
    await context.database.query(`declare firedrill_references no scroll cursor for ${query}`);
    const tree = new RestoredTree(files.directory);
    const counts = { rows: 0, nulls: 0, missing: 0, outside: 0 };
    const missing: string[] = [];
    for (;;) {
      context.signal.throwIfAborted();
      const batch = await context.database.query(`fetch ${BATCH_ROWS} from firedrill_references`);
      if (batch.rows.length === 0) break;
      const column = batch.fields[0]?.name;
      if (column === undefined) return { status: 'failed', message: 'the query returns no columns; expected a column of paths' };
      for (const row of batch.rows) {
        counts.rows++;
        const value = row[column];
        if (value === null || value === undefined) {
          counts.nulls++;
          continue;
        }
        const path = typeof value === 'string' ? value : JSON.stringify(value);
        // A reference that would leave the files target (absolute, "..", or through a restored link to the live system)
        // cannot be satisfied by it: it is missing, and said so.
        const lookup = await tree.lookUp(path, { follow: true });
        if (lookup.status === 'present') continue;
        const outside = lookup.status === 'outside';
        counts.missing++;
        if (outside) counts.outside++;
        if (missing.length < SHOWN) missing.push(outside ? `${path} (outside the files target)` : path);
      }
    }
    await context.database.query('close firedrill_references');
    const checked = counts.rows - counts.nulls;
    const details = { rows: counts.rows, nullPaths: counts.nulls, checked, missing: counts.missing, outside: counts.outside };
    const nulls = counts.nulls > 0 ? ` (${counts.nulls} NULL paths not checked)` : '';
    if (counts.missing > 0) {
      const more = counts.missing > missing.length ? `, and ${counts.missing - missing.length} more` : '';
      return {
        status: 'failed',
        message: `${counts.missing} of ${checked} referenced paths are missing from target "${this.config.files}": ${missing.join(', ')}${more}${nulls}`,
        details,
      };
    }
    if (checked === 0) return { status: 'passed', message: `the query returned no paths: nothing to check${nulls}`, details };
    return { status: 'passed', message: `all ${checked} referenced paths exist in target "${this.config.files}"${nulls}`, details };
  }
}
