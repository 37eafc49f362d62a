import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ChildProcessError, runToCompletion, spawnChild } from '../../../src/pipeline/child-process.ts';
import { Releasers } from '../../../src/drill/releasers.ts';
import { silentLogger } from '../../../src/logger.ts';

/** Real child processes (env, sleep, sh): what firedrill's own spawning promises. */

describe('spawnChild', () => {
  it("gives the child only the basic variables of firedrill's environment, plus what the caller passes", async () => {
    process.env.FIREDRILL_TEST_PLANTED_SECRET = 'planted-in-the-parent';
    process.env.PGPASSWORD = 'a-parent-libpq-password';
    try {
      const output = await runToCompletion('env', [], { env: { PGHOST: '/run/explicit' } });
      const names = output.split('\n').map((line) => line.split('=')[0]);
      expect(names).toContain('PATH');
      expect(output).toContain('PGHOST=/run/explicit');
      expect(output).not.toContain('planted-in-the-parent');
      expect(output).not.toContain('a-parent-libpq-password');
    } finally {
      delete process.env.FIREDRILL_TEST_PLANTED_SECRET;
      delete process.env.PGPASSWORD;
    }
  });

  it('fails with the exit status and the end of stderr when the child fails', async () => {
    const child = spawnChild('sh', ['-c', 'echo first >&2; echo "the real reason" >&2; exit 3']);
    const error = await child.succeeded.catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ChildProcessError);
    expect((error as ChildProcessError).exitCode).toBe(3);
    expect((error as Error).message).toBe('sh exited with status 3: first\nthe real reason');
  });

  it('says the program is missing when it cannot be started', async () => {
    const error = await spawnChild('/nonexistent/pg_dump', []).succeeded.catch((caught: unknown) => caught);
    expect((error as Error).message).toBe('pg_dump could not be started: /nonexistent/pg_dump not found');
  });

  it('stops the child at once when the signal had fired before the spawn', async () => {
    const controller = new AbortController();
    controller.abort();
    const started = Date.now();
    const child = spawnChild('sleep', ['30'], { signal: controller.signal });
    const error = await child.succeeded.catch((caught: unknown) => caught);
    expect((error as ChildProcessError).exitSignal).toBe('SIGTERM');
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('is killed by its releaser and unregisters itself when it exits', async () => {
    const releasers = new Releasers(silentLogger);
    const sleeper = spawnChild('sleep', ['30'], { releasers });
    expect(releasers.size).toBe(1);
    await releasers.releaseAll();
    await expect(sleeper.succeeded).rejects.toThrow('sleep was killed by SIGTERM');

    const quick = spawnChild('true', [], { releasers });
    await quick.succeeded;
    expect(releasers.size).toBe(0);
  });
});

/**
 * A Node process (standing in for firedrill) that spawns `sleep` through
 * spawnChild and prints its pid; the test then kills that Node process with
 * SIGKILL, as the OOM killer would, and looks at the sleep.
 */
async function orphanAfterSigkill(dieWithParent: boolean): Promise<{ pid: number; alive: () => boolean }> {
  const module = resolve(import.meta.dirname, '../../../src/pipeline/child-process.ts');
  const script = `import { spawnChild } from ${JSON.stringify(module)};
const child = spawnChild('sleep', ['30'], { dieWithParent: ${dieWithParent} });
child.process.once('spawn', () => console.log(child.process.pid));
setInterval(() => {}, 1000);`;
  const parent = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await once(parent.stdout, 'data')) as [Buffer];
  const pid = Number(line.toString().trim());
  parent.kill('SIGKILL');
  await once(parent, 'close');
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  return { pid, alive };
}

describe('spawnChild with dieWithParent', () => {
  it('takes the child down with its parent when the parent is killed with SIGKILL (Linux, setpriv)', async () => {
    const orphan = await orphanAfterSigkill(true);
    for (let waited = 0; orphan.alive() && waited < 3_000; waited += 50) await new Promise((done) => setTimeout(done, 50));
    expect(orphan.alive()).toBe(false);
  });

  it('is what makes the difference: without it, the child outlives a killed parent', async () => {
    const orphan = await orphanAfterSigkill(false);
    await new Promise((done) => setTimeout(done, 500));
    try {
      expect(orphan.alive()).toBe(true);
    } finally {
      process.kill(orphan.pid, 'SIGKILL');
    }
  });
});
