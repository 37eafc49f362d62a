import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import {
  describeRetention,
  planRetention,
  retentionSchema,
  type RetentionCandidate,
  type RetentionPlan,
  type RetentionPolicy,
} from '../../../src/repository/retention.ts';

// A fixed clock after every backup below, unless a test is about clock skew.
const NOW = new Date('2027-06-01T00:00:00Z');
const DAY_MS = 86_400_000;

const policy = (input: z.input<typeof retentionSchema>): RetentionPolicy => retentionSchema.parse(input);

/** `2026-11-25T02:00:00Z` becomes the id `20261125T020000Z`, the way firedrill names backups by time. */
const idOf = (createdAt: Date) => createdAt.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');

function backup(createdAt: string, options: { verified?: boolean; backupId?: string } = {}): RetentionCandidate {
  const date = new Date(createdAt);
  return { backupId: options.backupId ?? idOf(date), createdAt: date, verified: options.verified ?? false };
}

/** One backup a day at 02:00 UTC, oldest first. */
function dailyBackups(firstDay: string, days: number): RetentionCandidate[] {
  const first = new Date(`${firstDay}T02:00:00Z`).getTime();
  return Array.from({ length: days }, (_, index) => backup(new Date(first + index * DAY_MS).toISOString()));
}

const keptIds = (plan: RetentionPlan) => plan.keep.map((decision) => decision.backupId);
const removedIds = (plan: RetentionPlan) => plan.remove.map((decision) => decision.backupId);
const reasonsOf = (plan: RetentionPlan, backupId: string) =>
  [...plan.keep, ...plan.remove].find((decision) => decision.backupId === backupId)?.reasons;

describe('planRetention', () => {
  it('keeps the newest backups under keepLast and removes the rest, newest first', () => {
    const backups = dailyBackups('2026-11-01', 5);

    const plan = planRetention(backups, policy({ keepLast: 3 }), { now: NOW });

    expect(plan.keep).toEqual([
      { backupId: '20261105T020000Z', createdAt: new Date('2026-11-05T02:00:00Z'), reasons: ['last 1 of 3', 'newest backup'] },
      { backupId: '20261104T020000Z', createdAt: new Date('2026-11-04T02:00:00Z'), reasons: ['last 2 of 3'] },
      { backupId: '20261103T020000Z', createdAt: new Date('2026-11-03T02:00:00Z'), reasons: ['last 3 of 3'] },
    ]);
    expect(plan.remove).toEqual([
      { backupId: '20261102T020000Z', createdAt: new Date('2026-11-02T02:00:00Z'), reasons: ['not kept by keepLast 3'] },
      { backupId: '20261101T020000Z', createdAt: new Date('2026-11-01T02:00:00Z'), reasons: ['not kept by keepLast 3'] },
    ]);
  });

  it('keeps the newest backup of each day under keepDaily when a day has several', () => {
    const backups = ['2026-11-23', '2026-11-24', '2026-11-25'].flatMap((day) =>
      ['T01:00:00Z', 'T12:00:00Z', 'T22:00:00Z'].map((time) => backup(`${day}${time}`)),
    );

    const plan = planRetention(backups, policy({ keepDaily: 2 }), { now: NOW });

    expect(keptIds(plan)).toEqual(['20261125T220000Z', '20261124T220000Z']);
    expect(reasonsOf(plan, '20261124T220000Z')).toEqual(['daily 2026-11-24']);
    expect(removedIds(plan)).toHaveLength(7);
    expect(reasonsOf(plan, '20261125T120000Z')).toEqual(['not kept by keepDaily 2']);
  });

  it('counts only days that have backups, so gaps do not use up keepDaily', () => {
    const backups = [backup('2026-11-01T02:00:00Z'), backup('2026-11-05T02:00:00Z'), backup('2026-11-20T02:00:00Z')];

    expect(keptIds(planRetention(backups, policy({ keepDaily: 3 }), { now: NOW }))).toEqual([
      '20261120T020000Z',
      '20261105T020000Z',
      '20261101T020000Z',
    ]);
    expect(keptIds(planRetention(backups, policy({ keepDaily: 2 }), { now: NOW }))).toEqual(['20261120T020000Z', '20261105T020000Z']);
  });

  it.each([
    // 2026 starts on a Thursday, so it has 53 ISO weeks and its week 1 starts on Monday 2025-12-29.
    ['2025-12-29T12:00:00Z', 'weekly 2026-W01'],
    ['2026-12-31T12:00:00Z', 'weekly 2026-W53'],
    ['2027-01-01T12:00:00Z', 'weekly 2026-W53'],
    ['2027-01-03T12:00:00Z', 'weekly 2026-W53'],
    ['2027-01-04T12:00:00Z', 'weekly 2027-W01'],
    // 2025 starts on a Wednesday, so Monday 2024-12-30 already belongs to 2025-W01.
    ['2024-12-30T12:00:00Z', 'weekly 2025-W01'],
    // Leap year 2020 starts on a Wednesday and has 53 weeks; Sunday 2021-01-03 ends its last.
    ['2021-01-03T12:00:00Z', 'weekly 2020-W53'],
  ])('puts a backup of %s in the ISO week of its Thursday (%s)', (createdAt, reason) => {
    const plan = planRetention([backup(createdAt)], policy({ keepWeekly: 1 }), { now: NOW });

    expect(plan.keep[0]?.reasons).toEqual([reason, 'newest backup']);
  });

  it('keeps one backup per ISO week across a year boundary', () => {
    const backups = ['2026-12-27', '2026-12-28', '2026-12-31', '2027-01-01', '2027-01-03', '2027-01-04'].map((day) => backup(`${day}T02:00:00Z`));

    const plan = planRetention(backups, policy({ keepWeekly: 3 }), { now: NOW });

    expect(plan.keep.map((decision) => [decision.backupId, decision.reasons[0]])).toEqual([
      ['20270104T020000Z', 'weekly 2027-W01'],
      ['20270103T020000Z', 'weekly 2026-W53'],
      ['20261227T020000Z', 'weekly 2026-W52'],
    ]);
    expect(removedIds(plan)).toEqual(['20270101T020000Z', '20261231T020000Z', '20261228T020000Z']);
  });

  it('keeps the newest backup of each month and of each year', () => {
    const backups = ['2025-03-10', '2025-11-02', '2025-12-30', '2026-01-15', '2026-01-31', '2026-02-01', '2026-02-14'].map((day) =>
      backup(`${day}T02:00:00Z`),
    );

    const monthly = planRetention(backups, policy({ keepMonthly: 3 }), { now: NOW });
    const yearly = planRetention(backups, policy({ keepYearly: 5 }), { now: NOW });

    expect(monthly.keep.map((decision) => [decision.backupId, decision.reasons[0]])).toEqual([
      ['20260214T020000Z', 'monthly 2026-02'],
      ['20260131T020000Z', 'monthly 2026-01'],
      ['20251230T020000Z', 'monthly 2025-12'],
    ]);
    expect(yearly.keep.map((decision) => [decision.backupId, decision.reasons[0]])).toEqual([
      ['20260214T020000Z', 'yearly 2026'],
      ['20251230T020000Z', 'yearly 2025'],
    ]);
  });

  it('keeps exactly the expected 20 of a year of daily backups under a combined policy', () => {
    const backups = dailyBackups('2026-01-01', 365);

    const plan = planRetention(backups, policy({ keepDaily: 7, keepWeekly: 4, keepMonthly: 12, keepYearly: 3 }), { now: NOW });

    // 7 days (Dec 25-31); weeks W53, W52 (Dec 27, already kept), W51 (Dec 20), W50 (Dec 13);
    // the last day of 12 months (Dec 31 already kept); the year 2026 (Dec 31 again).
    expect(keptIds(plan)).toEqual([
      ...['1231', '1230', '1229', '1228', '1227', '1226', '1225', '1220', '1213'],
      ...['1130', '1031', '0930', '0831', '0731', '0630', '0531', '0430', '0331', '0228', '0131'],
    ].map((monthDay) => `2026${monthDay}T020000Z`));
    expect(plan.remove).toHaveLength(345);
    expect(reasonsOf(plan, '20261231T020000Z')).toEqual(['daily 2026-12-31', 'weekly 2026-W53', 'monthly 2026-12', 'yearly 2026', 'newest backup']);
    expect(reasonsOf(plan, '20261227T020000Z')).toEqual(['daily 2026-12-27', 'weekly 2026-W52']);
    expect(reasonsOf(plan, '20261213T020000Z')).toEqual(['weekly 2026-W50']);
    expect(reasonsOf(plan, '20260228T020000Z')).toEqual(['monthly 2026-02']);
    expect(reasonsOf(plan, '20260101T020000Z')).toEqual(['not kept by keepDaily 7, keepWeekly 4, keepMonthly 12, keepYearly 3']);
  });

  it('judges the day a backup near midnight belongs to in the policy time zone', () => {
    // 23:30 UTC on 25 November is 00:30 on the 26th in Berlin (UTC+1 in winter).
    const backups = [backup('2026-11-24T12:00:00Z'), backup('2026-11-25T22:00:00Z'), backup('2026-11-25T23:30:00Z')];

    const utc = planRetention(backups, policy({ keepDaily: 2 }), { now: NOW });
    const berlin = planRetention(backups, policy({ keepDaily: 2, timezone: 'Europe/Berlin' }), { now: NOW });

    expect(utc.keep.map((decision) => [decision.backupId, decision.reasons[0]])).toEqual([
      ['20261125T233000Z', 'daily 2026-11-25'],
      ['20261124T120000Z', 'daily 2026-11-24'],
    ]);
    expect(berlin.keep.map((decision) => [decision.backupId, decision.reasons[0]])).toEqual([
      ['20261125T233000Z', 'daily 2026-11-26'],
      ['20261125T220000Z', 'daily 2026-11-25'],
    ]);
  });

  it('keeps the newest backup that passed a drill even when every rule would remove it', () => {
    const backups = dailyBackups('2026-11-01', 6).map((candidate) => ({
      ...candidate,
      verified: ['20261101T020000Z', '20261102T020000Z'].includes(candidate.backupId),
    }));

    const plan = planRetention(backups, policy({ keepLast: 2 }), { now: NOW });

    expect(keptIds(plan)).toEqual(['20261106T020000Z', '20261105T020000Z', '20261102T020000Z']);
    expect(reasonsOf(plan, '20261102T020000Z')).toEqual(['newest backup that passed a drill']);
    expect(removedIds(plan)).toContain('20261101T020000Z');
  });

  it('never removes the newest backup, even under a policy that bypassed the schema and keeps nothing', () => {
    const keepsNothing: RetentionPolicy = { keepDaily: 0, timezone: 'UTC' };

    const plan = planRetention(dailyBackups('2026-11-01', 3), keepsNothing, { now: NOW });

    expect(plan.keep).toEqual([{ backupId: '20261103T020000Z', createdAt: new Date('2026-11-03T02:00:00Z'), reasons: ['newest backup'] }]);
    expect(removedIds(plan)).toEqual(['20261102T020000Z', '20261101T020000Z']);
    expect(reasonsOf(plan, '20261101T020000Z')).toEqual(['not kept by keepDaily 0']);
  });

  it('keeps backups created after now and lets them take part in the rules', () => {
    const now = new Date('2026-11-05T12:00:00Z');
    const backups = dailyBackups('2026-11-03', 4);

    const plan = planRetention(backups, policy({ keepLast: 2 }), { now });

    expect(plan.keep).toEqual([
      { backupId: '20261106T020000Z', createdAt: new Date('2026-11-06T02:00:00Z'), reasons: ['last 1 of 2', 'newest backup', 'created after now (clock skew?)'] },
      { backupId: '20261105T020000Z', createdAt: new Date('2026-11-05T02:00:00Z'), reasons: ['last 2 of 2'] },
    ]);
    expect(removedIds(plan)).toEqual(['20261104T020000Z', '20261103T020000Z']);
  });

  it('gives the same plan for the same backups in any order, breaking equal times by backup id', () => {
    const sameMoment = '2026-11-25T01:00:00Z';
    const backups = [
      ...dailyBackups('2026-10-01', 60),
      backup(sameMoment, { backupId: 'b-second' }),
      backup(sameMoment, { backupId: 'a-first' }),
      backup(sameMoment, { backupId: 'c-third', verified: true }),
    ];
    const gfs = policy({ keepLast: 2, keepDaily: 5, keepWeekly: 3, keepMonthly: 2 });
    const rotated = [...backups.slice(17), ...backups.slice(0, 17)];
    // An interleaving that is neither sorted nor reversed.
    const interleaved = [...backups.filter((_, index) => index % 2 === 1), ...backups.filter((_, index) => index % 2 === 0).reverse()];

    const plan = planRetention(backups, gfs, { now: NOW });

    expect(planRetention(backups, gfs, { now: NOW })).toEqual(plan);
    expect(planRetention([...backups].reverse(), gfs, { now: NOW })).toEqual(plan);
    expect(planRetention(rotated, gfs, { now: NOW })).toEqual(plan);
    expect(planRetention(interleaved, gfs, { now: NOW })).toEqual(plan);
    expect(keptIds(plan).slice(0, 3)).toEqual(['20261129T020000Z', '20261128T020000Z', '20261127T020000Z']);
    expect([...keptIds(plan), ...removedIds(plan)].filter((backupId) => !backupId.startsWith('2026'))).toEqual(['c-third', 'b-second', 'a-first']);
    expect(reasonsOf(plan, 'c-third')).toEqual(['newest backup that passed a drill']);
  });

  it('does not change the backups it is given', () => {
    const backups = dailyBackups('2026-11-01', 3);
    const before = structuredClone(backups);

    const plan = planRetention(backups, policy({ keepLast: 1 }), { now: NOW });
    plan.keep[0]!.createdAt.setTime(0);

    expect(backups).toEqual(before);
  });

  it('returns an empty plan for no backups', () => {
    expect(planRetention([], policy({ keepLast: 3 }), { now: NOW })).toEqual({ keep: [], remove: [] });
  });

  it('throws an error naming the backup whose createdAt is not a valid date', () => {
    const backups = [backup('2026-11-01T02:00:00Z'), { backupId: 'broken-backup', createdAt: new Date('not a date'), verified: false }];

    expect(() => planRetention(backups, policy({ keepLast: 3 }), { now: NOW })).toThrow(/backup broken-backup has an invalid createdAt/);
  });

  it('throws when now is not a valid date', () => {
    expect(() => planRetention([], policy({ keepLast: 3 }), { now: new Date(Number.NaN) })).toThrow(/now is not a valid date/);
  });

  it('throws when one backup id is listed twice', () => {
    const backups = [backup('2026-11-01T02:00:00Z', { backupId: 'twin' }), backup('2026-11-02T02:00:00Z', { backupId: 'twin' })];

    expect(() => planRetention(backups, policy({ keepLast: 3 }), { now: NOW })).toThrow(/backup twin is listed twice/);
  });
});

describe('retentionSchema', () => {
  const messagesOf = (input: unknown) => retentionSchema.safeParse(input).error?.issues.map((issue) => issue.message) ?? [];

  it('accepts a policy and judges days in UTC unless told otherwise', () => {
    expect(retentionSchema.parse({ keepLast: 3, keepDaily: 7 })).toEqual({ keepLast: 3, keepDaily: 7, timezone: 'UTC' });
  });

  it('spells a known time zone the canonical way', () => {
    expect(retentionSchema.parse({ keepDaily: 7, timezone: 'europe/berlin' }).timezone).toBe('Europe/Berlin');
  });

  it('rejects negative and fractional counts', () => {
    expect(retentionSchema.safeParse({ keepDaily: -1 }).success).toBe(false);
    expect(retentionSchema.safeParse({ keepLast: 1.5 }).success).toBe(false);
  });

  it('rejects unknown keys, such as a misspelt rule', () => {
    expect(retentionSchema.safeParse({ keepLast: 3, keepDayly: 7 }).success).toBe(false);
  });

  it('rejects an empty policy, and one whose every count is zero, saying a rule is needed', () => {
    expect(messagesOf({})).toEqual([expect.stringContaining('expected at least one rule (keepLast, keepDaily, keepWeekly, keepMonthly, keepYearly)')]);
    expect(messagesOf({ keepLast: 0, keepYearly: 0 })).toEqual([expect.stringContaining('expected at least one rule')]);
  });

  it('rejects an unknown time zone by name', () => {
    expect(messagesOf({ keepDaily: 7, timezone: 'Mars/Olympus' })).toContainEqual(expect.stringContaining('unknown time zone "Mars/Olympus"'));
  });

  it('describes every field', () => {
    for (const field of Object.values(retentionSchema.shape)) expect(field.description).toMatch(/\(Default: .+\)$/);
  });
});

describe('describeRetention', () => {
  it('names the configured rules in a fixed order and the time zone', () => {
    expect(describeRetention(policy({ keepDaily: 7, keepLast: 3 }))).toBe('keepLast 3, keepDaily 7 (UTC)');
    expect(describeRetention(policy({ keepYearly: 2, keepWeekly: 4, timezone: 'Europe/Berlin' }))).toBe('keepWeekly 4, keepYearly 2 (Europe/Berlin)');
  });
});
