import { z } from 'zod';
import type { CheckContext, CheckOutcome } from '../interfaces.ts';
import { BaseCheck, commonCheckFields } from './base-check.ts';
import { postgresMetadata } from '../engines/postgres/postgres-engine.ts';
import { captureInventory, countRowsExactly, type Inventory } from '../engines/postgres/fingerprint.ts';
import { compareFingerprints, summarizeDifferences, type Tolerance } from '../engines/postgres/fingerprint-compare.ts';

const toleranceSchema = z
  .union([z.int().min(0), z.string().regex(/^\d+(\.\d+)?%$/, { error: 'expected a number of rows or a percentage like "1%"' })])
  .transform((value): Tolerance => (typeof value === 'number' ? { rows: value } : { fraction: Number(value.slice(0, -1)) / 100 }));

export const fingerprintCheckSchema = z
  .strictObject({
    type: z.literal('fingerprint').describe("Compares the restored database with the source's fingerprint in the manifest."),
    ...commonCheckFields('10m'),
    tolerance: toleranceSchema.prefault(0).describe('How far an exactly counted table may differ: rows (5) or a percentage ("1%"). (Default: 0)'),
    estimateTolerance: toleranceSchema
      .prefault('10%')
      .describe("How far a table may differ from the source planner's estimate, for tables estimated at backup time. (Default: 10%)"),
    rowCounts: z.boolean().default(true).describe('Compare row counts. (Default: true)'),
    schema: z.boolean().default(true).describe('Compare the schema inventory. (Default: true)'),
    ignore: z
      .array(z.string())
      .default([])
      .describe('Tables (with their columns, constraints and indexes; "audit_log" means public.audit_log) or other objects, such as an extension, to leave out.'),
    jobs: z.int().min(1).optional().describe('Sessions that count rows in parallel. (Default: restore.jobs)'),
  })
  .describe('Row counts and schema inventory of the restore, against those taken in the dump\'s snapshot.');

export type FingerprintCheckConfig = z.output<typeof fingerprintCheckSchema>;

export class FingerprintCheck extends BaseCheck<FingerprintCheckConfig> {
  readonly #jobs: number;

  constructor(config: FingerprintCheckConfig, defaults: { jobs: number }) {
    super(config);
    this.#jobs = config.jobs ?? defaults.jobs;
  }

  async run(context: CheckContext): Promise<CheckOutcome> {
    const source = postgresMetadata(context.target).fingerprint;
    const inventory = await captureInventory(async (sql) => (await context.database.query(sql)).rows);
    if (!source) return describeWithoutSource(inventory);
    const restoredTables = new Set(inventory.tables);
    const uncertain = Object.keys(source.rowCounts).filter((table) => source.rowCounts[table]?.method === 'uncertain');
    // Largest first, by the source's counts.
    const toCount = this.config.rowCounts
      ? Object.entries(source.rowCounts)
          .filter(([table, count]) => restoredTables.has(table) && count.method !== 'uncertain')
          .sort(([, a], [, b]) => b.rows - a.rows)
          .map(([table]) => table)
      : [];
    const rowCounts = await context.database.parallel(Math.min(this.#jobs, Math.max(1, toCount.length)), (sessions) =>
      countRowsExactly(
        sessions.map((session) => async (sql) => (await session.query(sql)).rows),
        toCount,
      ),
    );
    const differences = compareFingerprints(source, { inventory, rowCounts }, {
      tolerance: this.config.tolerance,
      estimateTolerance: this.config.estimateTolerance,
      rowCounts: this.config.rowCounts,
      schema: this.config.schema,
      ignore: this.config.ignore,
    });
    const compared = [
      ...(this.config.rowCounts ? [`${toCount.length} tables' row counts`] : []),
      ...(this.config.schema ? [`${countInventory(source.inventory)} schema objects`] : []),
    ].join(' and ');
    // Said in every message, pass or fail: these tables were not verified.
    const notCompared =
      this.config.rowCounts && uncertain.length > 0 ? `; row counts not compared (changed on the source while the backup ran): ${uncertain.join(', ')}` : '';
    const details = { differences: differences.length, tablesCompared: toCount.length, tablesNotCompared: uncertain };
    if (differences.length === 0) return { status: 'passed', message: `matches the source snapshot (${compared})${notCompared}`, details };
    return { status: 'failed', message: `${summarizeDifferences(differences)}${notCompared}`, details: { ...details, firstDifferences: differences.slice(0, 20) } };
  }
}

function countInventory(inventory: Record<string, unknown>): number {
  return Object.values(inventory).reduce<number>((sum, items) => sum + (Array.isArray(items) ? items.length : 0), 0);
}

/**
 * A backup made elsewhere has no fingerprint of its source: what can be known
 * is what was restored. An empty restore fails (a dump of nothing restores
 * "successfully"); otherwise the inventory is reported, and row counts are
 * for sql checks to expect.
 */
function describeWithoutSource(inventory: Inventory): CheckOutcome {
  const counts = Object.fromEntries(Object.entries(inventory).map(([category, items]) => [category, Array.isArray(items) ? items.length : items]));
  const summary = `${inventory.tables.length} tables, ${inventory.indexes.length} indexes, ${inventory.constraints.length} constraints`;
  if (inventory.tables.length === 0) {
    return { status: 'failed', message: 'the restored database has no tables: the backup is empty (no source fingerprint to compare with: it was made elsewhere)', details: counts };
  }
  return {
    status: 'passed',
    message: `no source fingerprint (backup made elsewhere): restored ${summary}; expect row counts with sql checks`,
    details: counts,
  };
}
