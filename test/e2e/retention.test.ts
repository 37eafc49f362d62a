import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { drillFile } from '../support/source-database.ts';
import { useSourceDatabase } from '../support/lifecycle.ts';
import type { Report } from '../../src/report/report.ts';

/** Retention as a user meets it: applied after each successful backup, and shown by `firedrill prune`. */

const context = useSourceDatabase();

async function backupIds(): Promise<string[]> {
  const names = await readdir(join(context.workspace.directory, 'var/backups/orders')).catch(() => [] as string[]);
  return names.filter((name) => name !== 'reports').sort();
}

const FAILING_CHECK = '  - { name: impossible, type: sql, query: "select count(*) from orders", expect: { equals: -1 } }';

describe('retention', () => {
  it('prunes after each backup but keeps the newest backup that passed a drill, and prune --dry-run says why', async () => {
    await context.workspace.writeFile('drills/orders.yaml', drillFile({ extra: 'retention: { keepLast: 1 }' }));
    const passed = JSON.parse((await context.workspace.run(['run', 'orders', '--json'])).stdout) as Report;
    expect(passed.status).toBe('passed');

    // From now on every drill fails: its backups are taken and committed, but never proven.
    await context.workspace.writeFile('drills/orders.yaml', drillFile({ checks: FAILING_CHECK, extra: 'retention: { keepLast: 1 }' }));
    const failedFirst = JSON.parse((await context.workspace.run(['run', 'orders', '--json'])).stdout) as Report;
    const failedSecond = JSON.parse((await context.workspace.run(['run', 'orders', '--json'])).stdout) as Report;
    expect([failedFirst.status, failedSecond.status]).toEqual(['failed', 'failed']);

    // keepLast 1 keeps the newest; the one that passed survives anyway; the unproven one in between goes.
    expect(await backupIds()).toEqual([passed.backup?.id, failedSecond.backup?.id].sort());

    const dryRun = await context.workspace.run(['prune', 'orders', '--dry-run']);
    expect(dryRun.code).toBe(0);
    expect(dryRun.stdout).toContain('orders: keepLast 1 (UTC) in local repository "local"');
    expect(dryRun.stdout).toMatch(new RegExp(`${failedSecond.backup?.id}\\s.*keep\\s+last 1 of 1; newest backup`));
    expect(dryRun.stdout).toMatch(new RegExp(`${passed.backup?.id}\\s.*keep\\s+newest backup that passed a drill`));
    expect(dryRun.stdout).toContain('2 kept, 0 would be removed');
  });

  it('keeps every backup of a drill without a policy, and says so', async () => {
    await context.workspace.writeFile('drills/orders.yaml', drillFile());
    expect((await context.workspace.run(['run', 'orders'])).code).toBe(0);
    expect((await context.workspace.run(['run', 'orders'])).code).toBe(0);
    const prune = await context.workspace.run(['prune']);
    expect(prune.stdout).toContain('orders: no retention policy; every backup is kept');
    expect(await backupIds()).toHaveLength(2);
  });
});
