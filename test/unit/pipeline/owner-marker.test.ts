import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { currentOwner, describeIncomplete } from '../../../src/pipeline/owner-marker.ts';

/** What `backups` and `repair` say of an incomplete backup, by what is known of its writer. */

/** A pid that provably ran here and is gone: a child that has exited. */
function deadPid(): number {
  const child = spawnSync('true');
  return child.pid;
}

describe('describeIncomplete', () => {
  it('names a writer that ran here and is gone, and when repair will take its backup', async () => {
    const owner = { ...(await currentOwner()), pid: deadPid() };
    expect(await describeIncomplete(owner, 60_000, false)).toBe(
      `left behind by pid ${owner.pid} on this machine, which no longer runs; repair removes it once it has been silent for 3 minutes (in 120s)`,
    );
  });

  it('says a live writer is still writing, and what is known of one elsewhere', async () => {
    const here = await currentOwner();
    expect(await describeIncomplete(here, 1_000, false)).toBe(`being written by pid ${process.pid} on ${here.hostname}`);
    expect(await describeIncomplete({ ...here, hostname: 'elsewhere', pid: 7 }, 1_000, false)).toBe('being written by pid 7 on elsewhere');
  });

  it('says abandoned once judged so, and "no manifest" without a marker', async () => {
    expect(await describeIncomplete(await currentOwner(), 2 * 60 * 60_000, true)).toBe('left behind by a firedrill process that no longer runs');
    expect(await describeIncomplete(undefined, 0, false)).toBe('no manifest');
  });
});
