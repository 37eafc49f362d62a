import { spawnSync } from 'node:child_process';
import { copyFile, mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { useWorkspace } from '../support/lifecycle.ts';

/** The README's quick start: `npm run demo` is `firedrill demo` with the example drill from drills/. */


const context = useWorkspace();
beforeEach(async () => {
  await mkdir(join(context.workspace.directory, 'drills'));
  await copyFile(resolve(import.meta.dirname, '../../drills/demo.yaml'), join(context.workspace.directory, 'drills/demo.yaml'));
});

describe('the built CLI', () => {
  it('is executable on its own, as `npx firedrill` and an installed bin run it', () => {
    const bin = resolve(import.meta.dirname, '../../dist/cli/bin.js');
    const result = spawnSync(bin, ['--version'], { encoding: 'utf8' });
    expect(result.error).toBeUndefined();
    expect(result.status).toBe(0);
    expect(result.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});

describe('firedrill demo', () => {
  it('runs the example drill end to end against a throwaway database and leaves only the backup and report', async () => {
    const result = await context.workspace.run(['demo']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('drill demo: PASSED');
    for (const check of ['orders exist', 'every order has items', 'prices are positive', 'nothing lost', 'data is fresh']) {
      expect(result.stdout).toMatch(new RegExp(`${check}\\s+\\w+\\s+passed`));
    }
    expect(result.stdout).toContain('The demo source database is removed now.');

    const backups = await context.workspace.run(['backups', 'demo']);
    expect(backups.code).toBe(0);
    expect(backups.stdout).toMatch(/\d{8}T\d{6}Z-[0-9a-f]{6}\s+\S+ \S+Z\s+\d+(\.\d)? KiB\s+complete/);
    expect(backups.stdout).toContain('1 complete backup(s)');

    const list = await context.workspace.run(['list']);
    expect(list.stdout).toMatch(/demo\s+0 3 \* \* \*\s+postgres:\/\/postgres@127\.0\.0\.1:\d+\/shop\s+\S+ \S+Z\s+passed/);
  });
});
