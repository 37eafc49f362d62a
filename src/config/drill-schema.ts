import { z } from 'zod';
import { notifyConfigSchema } from '../notify/registry.ts';
import { validateDetailed } from 'node-cron';
import { durationSchema, nameSchema, positiveIntegerSchema, secretSchema, timeoutSchema, timezoneSchema } from './common.ts';
import { sourceConfigSchema } from '../engines/registry.ts';
import { checkConfigSchema, checkTargetProblem } from '../checks/registry.ts';
import type { TargetType } from '../interfaces.ts';
import { retentionSchema } from '../repository/retention.ts';

/**
 * One drill per file in `drills/`. This schema is the source of truth: it
 * validates, it becomes `config/schema/drill.schema.json` for editors, and its
 * descriptions are the drill file reference.
 */

const fingerprintOptionsSchema = z
  .strictObject({
    rowCounts: z
      .enum(['exact', 'estimate', 'off'])
      .default('exact')
      .describe('exact: count every table; estimate: read the planner\'s estimates (cheap on huge tables); off: no counts. (Default: exact)'),
    tables: z
      .array(z.string().min(1))
      .optional()
      .describe('Count only these tables exactly (schema.table; "orders" means public.orders); the rest are estimated. (Default: all tables)'),
    estimateAbove: z
      .int()
      .min(0)
      .optional()
      .describe('Estimate, rather than count, tables the planner puts above this many rows. (Default: no limit)'),
  })
  .describe('What the source fingerprint records, taken in the dump\'s own snapshot. Counting runs on the source: on very large tables, prefer estimates.');

const existingBackupSchema = z
  .strictObject({
    repository: nameSchema.optional().describe('Repository that holds them. (Default: backup.repository, then defaults.repository)'),
    prefix: z
      .string()
      .default('')
      .refine((prefix) => !prefix.startsWith('/') && !prefix.split('/').includes('..'), { error: 'expected a relative prefix without ".."' })
      .describe("Where they are, relative to the repository's path or prefix, e.g. nightly/orders/. (Default: the whole repository)"),
    pattern: z
      .string()
      .min(1)
      .default('*')
      .describe('Glob the object names under prefix must match: * within a path segment, ** across segments, ? one character; e.g. "orders-*.dump.gz". (Default: *)'),
    format: z
      .enum(['custom', 'plain', 'directory-tar'])
      .default('custom')
      .describe('custom: pg_dump -Fc; plain: pg_dump SQL text (restored with psql); directory-tar: a tar of a pg_dump -Fd directory. (Default: custom)'),
    compression: z
      .enum(['auto', 'zstd', 'gzip', 'none'])
      .default('auto')
      .describe('How the objects are compressed; auto tells zstd, gzip and none apart by their first bytes. (Default: auto)'),
    encryption: z
      .strictObject({
        identity: secretSchema.describe('The age identity (AGE-SECRET-KEY-1...) that decrypts the objects, as a secret reference.'),
      })
      .optional()
      .describe('The objects are age-encrypted (recognized by their header; without this, an encrypted object is an error that says so).'),
    select: z
      .enum(['latest', 'random', 'oldest'])
      .default('latest')
      .describe(
        'Which matching object a run drills: the newest; a random one (within window), which over time catches rot in older recovery points; or the oldest. (Default: latest)',
      ),
    window: durationSchema('With select: random (or oldest), only objects at most this old count, e.g. 30d. (Default: all of them)').optional(),
    database: z
      .string()
      .min(1)
      .optional()
      .describe('Name of the database the backup is restored into. (Default: the name recorded in the dump, else "restored")'),
  })
  .describe(
    "Drill backups made elsewhere (a nightly pg_dump to S3) instead of taking one. The backup's age is the object's modification time; " +
      'with no source fingerprint, row counts are checked by sql checks and the fingerprint check reports the restored inventory.',
  );

const backupSchema = z
  .strictObject({
    existing: existingBackupSchema.optional(),
    repository: nameSchema.optional().describe('Repository (from config/firedrill.yaml) that stores the backups. (Default: defaults.repository)'),
    format: z.enum(['custom']).default('custom').describe('pg_dump archive format. (Default: custom)'),
    jobs: positiveIntegerSchema
      .default(1)
      .describe(
        "Parallel sessions for the fingerprint's row counts, all in the dump's snapshot. The custom format itself is written by one pg_dump process. (Default: 1)",
      ),
    lockWaitTimeout: timeoutSchema(
      'How long pg_dump waits for a table lock before the backup fails; a row count still waiting this long is left uncertain instead. (Default: 10m)',
    ).prefault('10m'),
    tool: z
      .enum(['auto', 'host', 'docker'])
      .default('auto')
      .describe(
        'Where pg_dump runs. host: an installed pg_dump (the lowest major at least the server\'s); docker: pg_dump of a postgres:<server major> container; ' +
          'auto: the host\'s when one is recent enough, else a container. (Default: auto)',
      ),
    binDir: z.string().optional().describe('Directory with pg_dump on the host. (Default: the lowest installed major at least the server\'s)'),
    image: z
      .string()
      .min(1)
      .default('postgres:{major}')
      .describe('Image whose pg_dump is used when pg_dump runs in a container; {major} becomes the server\'s major version. (Default: postgres:{major})'),
    network: z
      .string()
      .min(1)
      .default('host')
      .describe(
        'Docker network of the pg_dump container. host: it shares this machine\'s network, so the source URL means the same as here; ' +
          'or the name of a Docker network the database is reachable on (e.g. the network of a database container). (Default: host)',
      ),
    fingerprint: fingerprintOptionsSchema.prefault({}),
  })
  .describe('How the backup is taken.');

const restoreSchema = z
  .strictObject({
    sandbox: nameSchema
      .optional()
      .describe('Sandbox to restore into: "auto", "docker", "local", or one from config/firedrill.yaml. (Default: defaults.sandbox, itself auto by default)'),
    image: z
      .string()
      .min(1)
      .optional()
      .describe(
        'Container image for a docker sandbox, when the database needs more than the stock server (postgis/postgis:16-3.4, pgvector/pgvector:pg16). ' +
          '{major} becomes the major version the backup needs: the server\'s, or pg_dump\'s when newer. (Default: the sandbox\'s image, postgres:{major})',
      ),
    prepare: z
      .string()
      .min(1)
      .optional()
      .describe(
        'SQL run as the sandbox superuser in the new, empty database before pg_restore: roles the dump references that the source did not list, ' +
          'extensions installed differently, settings. Several statements may be separated by semicolons.',
      ),
    jobs: positiveIntegerSchema.default(1).describe('pg_restore --jobs. (Default: 1)'),
    privileges: z
      .enum(['restore', 'skip'])
      .default('restore')
      .describe(
        'restore: ownership and grants as on the source; skip: pg_restore --no-owner --no-privileges. ' +
          "Either way the source's role names are created in the sandbox (NOLOGIN), since policies and defaults may name them. (Default: restore)",
      ),
  })
  .describe('How and where the backup is restored.');

const objectivesSchema = z
  .strictObject({
    rto: durationSchema('Recovery time objective: fetch + sandbox start + restore + checks must finish within this.').optional(),
    rpo: durationSchema(
      'Recovery point objective: the restored data may be at most this old (backup age at the start of the restore, plus the data\'s age at the snapshot from a freshness check).',
    ).optional(),
    rtoRegression: z
      .strictObject({
        maxIncreasePercent: z
          .number()
          .positive()
          .default(50)
          .describe('How far above its median of the last 10 passed runs (at least 3) the RTO may rise before it counts as a regression, in percent. (Default: 50)'),
        action: z
          .enum(['warn', 'fail', 'off'])
          .default('warn')
          .describe('warn: a warning in the report and the terminal; fail: the drill fails; off: not judged. (Default: warn)'),
      })
      .prefault({})
      .describe('The RTO against the drill\'s own history: catches a restore that keeps getting slower before it misses the objective.'),
  })
  .describe('Limits that fail the drill when exceeded.');

const scheduleSchema = z
  .string()
  .superRefine((expression, context) => {
    const result = validateDetailed(expression);
    if (!result.valid) {
      const reasons = result.errors.map((error) => (error.field === 'expression' ? error.message : `${error.field} "${error.value}" is invalid`));
      context.addIssue({ code: 'custom', message: `expected a cron expression (minute hour day-of-month month day-of-week): ${reasons.join('; ')}` });
    }
  })
  .describe('Cron expression for `firedrill serve`, e.g. "0 3 * * *" (03:00 every day).');

export const drillSchema = z
  .strictObject({
    name: nameSchema.optional().describe('The drill\'s name in reports and the repository. (Default: the file name without .yaml)'),
    description: z.string().optional().describe('What this drill protects, for people reading reports.'),
    source: sourceConfigSchema
      .optional()
      .describe('What is backed up: one target, named "source". Give source, targets, or backup.existing.'),
    targets: z
      .record(nameSchema, sourceConfigSchema)
      .refine((targets) => Object.keys(targets).length > 0, { error: 'expected at least one target' })
      .optional()
      .describe(
        'Several named targets (a database and its files), backed up as one backup set and restored together; checks name the target they run against. ' +
          'Instead of source.',
      ),
    backup: backupSchema.prefault({}),
    restore: restoreSchema.prefault({}),
    checks: z.array(checkConfigSchema).default([]).describe('Verifications on the restored targets; all must pass.'),
    objectives: objectivesSchema.prefault({}),
    retention: retentionSchema
      .optional()
      .describe(
        'Which backups to keep (grandfather-father-son). Applied after each successful backup and by `firedrill prune`; ' +
          'only complete backups count, and the newest backup that passed a drill is always kept. (Default: keep every backup)',
      ),
    schedule: scheduleSchema.optional(),
    timezone: timezoneSchema.optional().describe('Timezone this drill\'s schedule is read in. (Default: scheduler.timezone, else the host\'s)'),
    notify: z
      .array(notifyConfigSchema)
      .default([])
      .describe('Who hears about a run, and when: email (needs smtp in config/firedrill.yaml) and webhooks. Each says `on:` which events. (Default: nobody)'),
  })
  .superRefine(
    (drill, context) => {
      // Runs even when other keys failed, so this problem is reported with the rest; checks may hold anything here.
      const existing = (drill.backup as { existing?: unknown } | undefined)?.existing;
      const given = [drill.source !== undefined && 'source', drill.targets !== undefined && 'targets', existing !== undefined && 'backup.existing'].filter(Boolean);
      if (given.length === 0) {
        context.addIssue({
          code: 'custom',
          path: ['source'],
          message: 'is required: what the drill backs up (or targets for several, or backup.existing to drill backups made elsewhere)',
        });
      }
      if (given.length > 1) {
        context.addIssue({
          code: 'custom',
          path: [given[1] === 'backup.existing' ? 'backup' : (given[1] as string), ...(given[1] === 'backup.existing' ? ['existing'] : [])],
          message: `and ${given[0] as string} exclude each other: a drill backs up one source, several targets, or drills existing backups`,
        });
      }
      if (existing !== undefined && drill.retention !== undefined) {
        context.addIssue({
          code: 'custom',
          path: ['retention'],
          message: 'applies to backups firedrill takes; backups made elsewhere (backup.existing) are pruned by whatever makes them',
        });
      }
      const seen = new Map<string, number>();
      (Array.isArray(drill.checks) ? (drill.checks as unknown[]) : []).forEach((check, index) => {
        const { name, type } = (check ?? {}) as { name?: unknown; type?: unknown };
        const effective = typeof name === 'string' ? name : type;
        if (typeof effective !== 'string') return;
        const first = seen.get(effective);
        if (first !== undefined) {
          context.addIssue({
            code: 'custom',
            path: ['checks', index, 'name'],
            message: `"${effective}" is also the name of checks[${first}]; check names must be unique`,
          });
        } else {
          seen.set(effective, index);
        }
      });
      const types = declaredTargetTypes(drill);
      if (types) {
        (Array.isArray(drill.checks) ? (drill.checks as unknown[]) : []).forEach((check, index) => {
          const problem = checkTargetProblem(check, types);
          if (problem) context.addIssue({ code: 'custom', path: ['checks', index, ...problem.path], message: problem.message });
        });
      }
    },
    { when: () => true },
  )
  .describe('A firedrill drill: back up a source, restore it into a sandbox, verify it, and measure RTO and RPO.');

export type DrillFile = z.output<typeof drillSchema>;

/**
 * The drill's targets and their types, as far as the file says (undefined
 * while the file is still invalid there): "source" for a single source or
 * backups made elsewhere (always PostgreSQL dumps), else each named target.
 */
export function declaredTargetTypes(drill: { source?: unknown; targets?: unknown; backup?: unknown }): Record<string, TargetType> | undefined {
  const typeOf = (value: unknown) => (value as { type?: unknown } | undefined)?.type;
  const known = (value: unknown): value is TargetType => value === 'postgres' || value === 'files';
  if (drill.source !== undefined) return known(typeOf(drill.source)) ? { source: typeOf(drill.source) as TargetType } : undefined;
  if (drill.targets !== undefined && typeof drill.targets === 'object' && drill.targets !== null) {
    const entries = Object.entries(drill.targets).map(([name, target]) => [name, typeOf(target)] as const);
    return entries.every(([, type]) => known(type)) ? (Object.fromEntries(entries) as Record<string, TargetType>) : undefined;
  }
  if ((drill.backup as { existing?: unknown } | undefined)?.existing !== undefined) return { source: 'postgres' };
  return undefined;
}
