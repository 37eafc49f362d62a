import { z } from 'zod';

/**
 * Which backups a repository keeps: a grandfather-father-son policy in the
 * manner of restic's `forget` and borg's `prune`. Pure and deterministic: the
 * caller lists the complete backups and passes the clock, and gets back what to
 * keep and what to remove with the reasons for each, so a prune can be shown
 * before it runs (a dry run) and explained after.
 */

const CALENDAR_RULES = ['keepDaily', 'keepWeekly', 'keepMonthly', 'keepYearly'] as const;
const RULES = ['keepLast', ...CALENDAR_RULES] as const;
type CalendarRule = (typeof CALENDAR_RULES)[number];

function keepCountSchema(description: string) {
  return z.int().min(0).optional().describe(`${description} (Default: unset; this rule keeps nothing)`);
}

export const retentionSchema = z
  .strictObject({
    keepLast: keepCountSchema('Keep the N newest backups.'),
    keepDaily: keepCountSchema('Keep the newest backup of each of the N most recent calendar days that have a backup; days without one do not count.'),
    keepWeekly: keepCountSchema('Keep the newest backup of each of the N most recent ISO 8601 weeks (Monday to Sunday) that have a backup.'),
    keepMonthly: keepCountSchema('Keep the newest backup of each of the N most recent calendar months that have a backup.'),
    keepYearly: keepCountSchema('Keep the newest backup of each of the N most recent calendar years that have a backup.'),
    timezone: z
      .string()
      .transform((timeZone, context) => {
        const canonical = canonicalTimeZone(timeZone);
        if (canonical === undefined) {
          context.addIssue({ code: 'custom', message: `unknown time zone "${timeZone}": expected an IANA name such as UTC or Europe/Berlin` });
          return z.NEVER;
        }
        return canonical;
      })
      .default('UTC')
      .describe(
        'IANA time zone in which the calendar day, ISO week, month and year a backup belongs to are judged: ' +
          'a backup at 23:30 UTC belongs to the next day in Europe/Berlin. (Default: UTC)',
      ),
  })
  // Every rule's count at zero keeps nothing, the same as naming none: almost certainly a mistake, and one that deletes backups.
  .refine((policy) => RULES.some((rule) => (policy[rule] ?? 0) >= 1), {
    error: `expected at least one rule (${RULES.join(', ')}) with a count of 1 or more: a policy that keeps nothing would remove every backup but the newest`,
  });
export type RetentionPolicy = z.output<typeof retentionSchema>;

/** A complete backup as the policy sees it; `verified` means a drill restored and checked it. */
export interface RetentionCandidate {
  backupId: string;
  createdAt: Date;
  verified: boolean;
}

export interface RetentionDecision {
  backupId: string;
  createdAt: Date;
  /** Why the backup is kept (every reason that applies), or the one reason it is removed. */
  reasons: string[];
}

/** Both lists newest first. */
export interface RetentionPlan {
  keep: RetentionDecision[];
  remove: RetentionDecision[];
}

/** `keepLast 3, keepDaily 7 (UTC)`: the policy in one line, for logs and messages. */
export function describeRetention(policy: RetentionPolicy): string {
  return `${describeRules(policy)} (${policy.timezone})`;
}

/**
 * Splits `backups` into those the policy keeps and those it removes. Each rule
 * counts its own buckets over all backups, as restic does, so one backup may be
 * kept for several reasons. Whatever the rules say, three backups are kept:
 * the newest, because pruning runs right after a new backup is committed and a
 * policy must never delete the one just taken; the newest that passed a drill,
 * because until a newer one passes it is the only backup known to restore;
 * and any created after `now`, because a skewed clock is no reason to delete.
 */
export function planRetention(backups: readonly RetentionCandidate[], policy: RetentionPolicy, options: { now: Date }): RetentionPlan {
  if (!isValidDate(options.now)) throw new Error(`cannot plan retention: now is not a valid date (${String(options.now)})`);
  assertValidBackups(backups);

  const newestFirst = [...backups].sort(compareNewestFirst);
  const reasons: string[][] = newestFirst.map(() => []);

  const keepLast = policy.keepLast ?? 0;
  for (let index = 0; index < Math.min(keepLast, newestFirst.length); index += 1) {
    reasons[index]!.push(`last ${index + 1} of ${keepLast}`);
  }

  const calendarDateOf = calendarDateIn(policy.timezone);
  const dates = newestFirst.map((backup) => calendarDateOf(backup.createdAt));
  for (const rule of CALENDAR_RULES) {
    const limit = policy[rule] ?? 0;
    // The bucket's label is also the reason, so two backups share a bucket exactly when they would share a reason.
    const buckets = new Set<string>();
    dates.forEach((date, index) => {
      const bucket = BUCKET_OF[rule](date);
      if (buckets.size >= limit || buckets.has(bucket)) return;
      buckets.add(bucket);
      reasons[index]!.push(bucket);
    });
  }

  if (newestFirst.length > 0) reasons[0]!.push('newest backup');
  const newestVerified = newestFirst.findIndex((backup) => backup.verified);
  if (newestVerified >= 0) reasons[newestVerified]!.push('newest backup that passed a drill');
  newestFirst.forEach((backup, index) => {
    if (backup.createdAt.getTime() > options.now.getTime()) reasons[index]!.push('created after now (clock skew?)');
  });

  const plan: RetentionPlan = { keep: [], remove: [] };
  const removeReason = `not kept by ${describeRules(policy)}`;
  newestFirst.forEach((backup, index) => {
    const kept = reasons[index]!;
    const decision = { backupId: backup.backupId, createdAt: new Date(backup.createdAt.getTime()) };
    if (kept.length > 0) plan.keep.push({ ...decision, reasons: kept });
    else plan.remove.push({ ...decision, reasons: [removeReason] });
  });
  return plan;
}

function describeRules(policy: RetentionPolicy): string {
  const configured = RULES.filter((rule) => policy[rule] !== undefined).map((rule) => `${rule} ${policy[rule]}`);
  return configured.length > 0 ? configured.join(', ') : 'no rule';
}

function isValidDate(value: unknown): value is Date {
  return value instanceof Date && !Number.isNaN(value.getTime());
}

function assertValidBackups(backups: readonly RetentionCandidate[]): void {
  const seen = new Set<string>();
  for (const backup of backups) {
    if (!isValidDate(backup.createdAt)) {
      throw new Error(`cannot plan retention: backup ${backup.backupId} has an invalid createdAt (${String(backup.createdAt)}), expected a valid Date`);
    }
    // Removal goes by id: with two backups under one id, removing one would remove the other.
    if (seen.has(backup.backupId)) throw new Error(`cannot plan retention: backup ${backup.backupId} is listed twice, expected unique backup ids`);
    seen.add(backup.backupId);
  }
}

/** Newest first; equal times fall back to the id, descending, so the order never depends on the input's. */
function compareNewestFirst(left: RetentionCandidate, right: RetentionCandidate): number {
  const byTime = right.createdAt.getTime() - left.createdAt.getTime();
  if (byTime !== 0) return byTime;
  return left.backupId < right.backupId ? 1 : left.backupId > right.backupId ? -1 : 0;
}

interface CalendarDate {
  year: number;
  month: number;
  day: number;
}

const pad = (value: number, digits: number) => String(value).padStart(digits, '0');

const BUCKET_OF: Record<CalendarRule, (date: CalendarDate) => string> = {
  keepDaily: (date) => `daily ${pad(date.year, 4)}-${pad(date.month, 2)}-${pad(date.day, 2)}`,
  keepWeekly: (date) => {
    const { weekYear, week } = isoWeekOf(date);
    return `weekly ${pad(weekYear, 4)}-W${pad(week, 2)}`;
  },
  keepMonthly: (date) => `monthly ${pad(date.year, 4)}-${pad(date.month, 2)}`,
  keepYearly: (date) => `yearly ${pad(date.year, 4)}`,
};

/**
 * ISO 8601: weeks run Monday to Sunday and belong to the year their Thursday
 * falls in, so 2027-01-01 (a Friday) is in 2026-W53 and 2027-01-04 starts 2027-W01.
 */
function isoWeekOf({ year, month, day }: CalendarDate): { weekYear: number; week: number } {
  const thursday = new Date(0);
  // setUTCFullYear, unlike Date.UTC, does not read years 0-99 as 1900-1999.
  thursday.setUTCFullYear(year, month - 1, day);
  const dayOfWeek = thursday.getUTCDay() === 0 ? 7 : thursday.getUTCDay();
  thursday.setUTCDate(thursday.getUTCDate() + 4 - dayOfWeek);
  const weekYear = thursday.getUTCFullYear();
  const januaryFirst = new Date(0);
  januaryFirst.setUTCFullYear(weekYear, 0, 1);
  const dayOfYear = Math.round((thursday.getTime() - januaryFirst.getTime()) / 86_400_000);
  return { weekYear, week: Math.floor(dayOfYear / 7) + 1 };
}

/** The zone's calendar date of an instant; one formatter per plan, as building one is the slow part. */
function calendarDateIn(timeZone: string): (instant: Date) => CalendarDate {
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat('en-US', { timeZone, calendar: 'gregory', numberingSystem: 'latn', year: 'numeric', month: 'numeric', day: 'numeric' });
  } catch (error) {
    throw new Error(`cannot plan retention: unknown time zone "${timeZone}", expected an IANA name such as UTC or Europe/Berlin`, { cause: error });
  }
  return (instant) => {
    const parts = format.formatToParts(instant);
    const part = (type: Intl.DateTimeFormatPartTypes) => Number(parts.find((candidate) => candidate.type === type)?.value);
    return { year: part('year'), month: part('month'), day: part('day') };
  };
}

/** The zone's canonical name (`utc` becomes `UTC`), or undefined when Intl does not know it. */
function canonicalTimeZone(timeZone: string): string | undefined {
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}
