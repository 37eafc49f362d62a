import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RestoredTree } from '../../../../src/engines/files/restored-path.ts';

/**
 * Paths looked up in a restored tree never lead out of it: a restored link
 * to the live system (`uploads -> /srv/app/uploads`) must not make a missing
 * file look present.
 */

let base: string;
let restored: string;
let live: string;
beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'firedrill-restored-path-'));
  restored = join(base, 'restored');
  live = join(base, 'live');
  await mkdir(join(restored, 'a'), { recursive: true });
  await mkdir(live);
  await writeFile(join(restored, 'a/file.png'), 'inside');
  await writeFile(join(live, 'production.png'), 'outside');
  await symlink(live, join(restored, 'uploads'));
  await symlink('a/file.png', join(restored, 'alias.png'));
  await symlink(join(live, 'production.png'), join(restored, 'escape.png'));
});
afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

describe('RestoredTree', () => {
  it('finds what is inside, following links only while they stay inside', async () => {
    const tree = new RestoredTree(restored);
    expect((await tree.lookUp('a/file.png', { follow: true })).status).toBe('present');
    expect((await tree.lookUp('alias.png', { follow: true })).status).toBe('present');
    expect((await tree.lookUp('a/none.png', { follow: true })).status).toBe('missing');
    expect((await tree.lookUp('nowhere/none.png', { follow: true })).status).toBe('missing');
  });

  it('refuses what leads outside: absolute paths, "..", a directory link to the live system, a file link out', async () => {
    const tree = new RestoredTree(restored);
    expect((await tree.lookUp(join(live, 'production.png'), { follow: true })).status).toBe('outside');
    expect((await tree.lookUp('../live/production.png', { follow: true })).status).toBe('outside');
    expect((await tree.lookUp('uploads/production.png', { follow: true })).status).toBe('outside');
    expect((await tree.lookUp('escape.png', { follow: true })).status).toBe('outside');
    // Without following, the link itself is the entry (an index that lists a link): it is there.
    expect((await tree.lookUp('escape.png', { follow: false })).status).toBe('present');
    expect((await tree.lookUp('uploads/production.png', { follow: false })).status).toBe('outside');
  });
});
