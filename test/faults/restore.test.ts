import { execFileSync } from 'node:child_process';
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { reportOf, useFaultScene } from '../support/fault-scene.ts';
import { SANDBOX_IMAGE, describeWithDocker } from '../support/docker.ts';
import { drillFile } from '../support/source-database.ts';

/**
 * Restore faults: a sandbox that never becomes ready is an environment error,
 * never a bad backup, and its container goes. (A check that never returns:
 * test/e2e/signals.test.ts; pg_restore errors: test/e2e/restore-failures.test.ts.)
 */

const scene = useFaultScene();

/** The sandbox image, but its server never starts: a container that runs and never answers. */
const NEVER_READY = `firedrill-test/never-ready:${SANDBOX_IMAGE.split(':')[1]}`;

describeWithDocker('restore faults', () => {
  beforeAll(() => {
    // Built from the local image: no registry is needed.
    execFileSync('docker', ['build', '--quiet', '--tag', NEVER_READY, '-'], { input: `FROM ${SANDBOX_IMAGE}\nENTRYPOINT ["/bin/sh", "-c", "exec sleep infinity", "--"]\n`, stdio: 'pipe' });
  });
  afterAll(() => {
    // The image is this file's own: it goes with it (its base layers are postgres's and stay).
    execFileSync('docker', ['rmi', '--force', NEVER_READY], { stdio: 'pipe' });
  });

  it('a sandbox that never becomes ready: an environment error after restore startTimeout, the backup not blamed, the container removed', async () => {
    await appendFile(join(scene.workspace.directory, 'config/firedrill.yaml'), `sandboxes:\n  stuck: { type: docker, image: ${NEVER_READY}, startTimeout: 3s }\n`);
    await scene.writeDrill(drillFile({ restore: '{ sandbox: stuck }' }));
    const started = Date.now();
    const result = await scene.drill();
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(result.code).toBe(2);
    const report = reportOf(result);
    expect(report.status).toBe('error');
    expect(report.error).toMatchObject({ kind: 'sandbox', phase: 'restore.sandbox' });
    expect(report.error?.message).toMatch(new RegExp(`^sandbox "stuck" \\(${NEVER_READY}\\): PostgreSQL did not accept connections within 3s`));
    expect(report.error?.message).toContain('If the server is only slow to start, raise sandboxes.stuck.startTimeout');
    // The backup itself was made and committed: it is not what failed.
    expect((await scene.backups()).filter((entry) => entry.status === 'complete')).toHaveLength(2);
    // useWorkspace checks after the test that no container of the run is left.
  });
});
