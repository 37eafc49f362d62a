import { spawnSync } from 'node:child_process';
import { expect, it } from 'vitest';
import pg from 'pg';
import { drillFile, fakePgDump, createSourceDatabase } from '../support/source-database.ts';
import { useSourceDatabase } from '../support/lifecycle.ts';
import { waitFor } from '../support/wait.ts';
import { SANDBOX_IMAGE, describeWithDocker } from '../support/docker.ts';
import { dockerClient, listFiredrillContainers } from '../../src/docker/docker-client.ts';
import type { Report } from '../../src/report/report.ts';

/** Restores into real containers of a locally built postgres:<major> image, through a real Docker engine. */

const context = useSourceDatabase();
const DOCKER_RESTORE = '{ sandbox: docker, jobs: 2 }';


async function containersOf(pid: number | undefined) {
  return (await listFiredrillContainers(await dockerClient())).filter((container) => container.owner.pid === pid);
}

describeWithDocker('the docker sandbox', () => {
  it('runs the end-to-end drill in a container of the backed-up major, and every check passes', async () => {
    await context.workspace.writeFile('drills/orders.yaml', drillFile({ restore: DOCKER_RESTORE }));
    const result = await context.workspace.run(['run', 'orders', '--json']);
    expect(result.stderr).not.toContain('"level":50');
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as Report;
    expect(report.status).toBe('passed');
    expect(report.checks.map((check) => [check.name, check.status])).toEqual([
      ['orders exist', 'passed'],
      ['nothing lost', 'passed'],
      ['data is fresh', 'passed'],
    ]);
    expect(report.restore?.description).toMatch(new RegExp(`^docker container [0-9a-f]{12} \\(${SANDBOX_IMAGE}, PostgreSQL \\d+`));
    expect(report.restore?.image).toBe(SANDBOX_IMAGE);
    for (const phase of ['restore.sandbox', 'restore.prepare', 'restore.copy', 'restore.load']) {
      expect(report.phases.map((recorded) => recorded.name)).toContain(phase);
    }
    // The container is gone once the run ends (the workspace checks that after every test, too).
    expect((await listFiredrillContainers(await dockerClient())).filter((container) => container.runId === report.runId)).toEqual([]);
  });

  it('fails the fingerprint check, naming the table, when the restore in the container differs from the source', async () => {
    // restore.prepare adds a table the source does not have: the fingerprint must notice.
    await context.workspace.writeFile(
      'drills/orders.yaml',
      drillFile({ restore: '{ sandbox: docker, prepare: "create table public.intruder (id int)" }', checks: '  - { name: nothing lost, type: fingerprint }' }),
    );
    const result = await context.workspace.run(['run', 'orders', '--json']);
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout) as Report;
    expect(report.status).toBe('failed');
    expect(report.checks[0]?.message).toContain('public.intruder');
  });

  it('fails with the extension named and the settings that fix it when the image lacks an extension the dump needs', async () => {
    const image = `firedrill-test/postgres-without-pg-trgm:${SANDBOX_IMAGE.split(':')[1]}`;
    const dockerfile = `FROM ${SANDBOX_IMAGE}\nRUN rm -f /usr/share/postgresql/*/extension/pg_trgm*\n`;
    const build = spawnSync('docker', ['build', '-q', '-t', image, '-'], { input: dockerfile, encoding: 'utf8' });
    expect(build.status, build.stderr).toBe(0);
    const url = await createSourceDatabase(context.source, 'search', 'create extension pg_trgm; create table words (word text); insert into words values (\'fire\');');
    await context.workspace.writeFile(
      'drills/search.yaml',
      drillFile({ restore: `{ sandbox: docker, image: "${image}" }`, checks: '  - { name: words, type: sql, query: "select count(*) from words", expect: { equals: 1 } }' }).replace(
        '${SOURCE_URL}',
        url,
      ),
    );
    const result = await context.workspace.run(['run', 'search', '--json']);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stdout, result.stderr).not.toBe('');
    const report = JSON.parse(result.stdout) as Report;
    expect(report.error).toMatchObject({ kind: 'sandbox', phase: 'restore.prepare' });
    expect(report.error?.message).toContain('the backup uses extension pg_trgm, which docker container');
    expect(report.error?.message).toContain('restore.image');
    expect(report.error?.message).toContain('restore.prepare');
  });

  it('restores with --keep into a database a person can connect to, until `sandbox rm` removes it', async () => {
    await context.workspace.writeFile('drills/orders.yaml', drillFile({ restore: DOCKER_RESTORE }));
    expect((await context.workspace.run(['run', 'orders'])).code).toBe(0);

    const restored = await context.workspace.run(['restore', 'orders', '--keep']);
    expect(restored.code, restored.stderr).toBe(0);
    const url = /psql '(postgres:\/\/[^']+)'/.exec(restored.stdout)?.[1];
    expect(url).toMatch(/^postgres:\/\/postgres:[^@]+@127\.0\.0\.1:\d+\/shop$/);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      expect((await client.query('select count(*)::int as orders from orders')).rows[0]).toEqual({ orders: 1200 });
    } finally {
      await client.end();
    }

    const listed = await context.workspace.run(['sandbox', 'ls', '--json']);
    const kept = (JSON.parse(listed.stdout) as { id: string; status: string; drill: string }[]).filter((container) => container.status === 'kept');
    const id = /sandbox rm ([0-9a-f]{12})/.exec(restored.stdout)?.[1];
    expect(kept.map((container) => container.id)).toContain(id);
    const [keptContainer] = (await listFiredrillContainers(await dockerClient())).filter((container) => container.id === id);
    expect(keptContainer?.name).toBe(`firedrill-kept-${id}`);
    // A kept sandbox is not a leftover: cleanup leaves it alone.
    expect((await context.workspace.run(['cleanup'])).stdout).toContain('containers: removed 0');

    const removed = await context.workspace.run(['sandbox', 'rm', id as string]);
    expect(removed.code).toBe(0);
    expect(removed.stdout).toContain(`removed ${id}`);
    expect((await listFiredrillContainers(await dockerClient())).map((container) => container.id)).not.toContain(id);
  });

  it('keeps nothing when a restore with --keep fails: the sandbox is removed like any other', async () => {
    await context.workspace.writeFile('drills/orders.yaml', drillFile({ restore: DOCKER_RESTORE }));
    expect((await context.workspace.run(['run', 'orders'])).code).toBe(0);
    await context.workspace.writeFile('drills/orders.yaml', drillFile({ restore: '{ sandbox: docker, prepare: "select no_such_function()" }' }));

    const restored = await context.workspace.run(['restore', 'orders', '--keep']);
    expect(restored.code).toBe(2);
    expect(restored.stderr).toContain('restore.prepare failed in docker container');
    expect(restored.stdout).not.toContain('psql');
    // The workspace's leftover check after this test asserts that no container of this run remains.
  });

  it.each(['SIGTERM', 'SIGINT'] as const)('removes the container and reports the run aborted when %s arrives mid-restore', async (signal) => {
    await context.workspace.writeFile('drills/orders.yaml', drillFile({ restore: '{ sandbox: docker, prepare: "select pg_sleep(60)" }' }));
    const running = context.workspace.start(['--log-level', 'info', 'run', 'orders', '--json']);
    let stderr = '';
    running.child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // restore.prepare sleeps: the signal arrives while the restore runs inside the started container.
    await waitFor(() => stderr.includes('"msg":"restore.sandbox done"'), 'the sandbox to start', 60_000);
    expect(await containersOf(running.child.pid)).toHaveLength(1);
    const signalledAt = Date.now();
    running.child.kill(signal);
    const result = await running.result;
    expect(result.code).toBe(2);
    expect((JSON.parse(result.stdout) as Report).status).toBe('aborted');
    // At once: the running prepare statement is cancelled, not waited for.
    expect(Date.now() - signalledAt).toBeLessThan(15_000);
    expect(await containersOf(running.child.pid)).toEqual([]);
  });

  it('leaves a container when killed with SIGKILL mid-restore, which `firedrill cleanup` removes', async () => {
    await context.workspace.writeFile('drills/orders.yaml', drillFile({ restore: '{ sandbox: docker, prepare: "select pg_sleep(60)" }' }));
    const running = context.workspace.start(['--log-level', 'info', 'run', 'orders']);
    let stderr = '';
    running.child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    await waitFor(() => stderr.includes('"msg":"restore.sandbox done"'), 'the sandbox to start', 60_000);
    running.child.kill('SIGKILL');
    await running.result;
    const [left] = await containersOf(running.child.pid);
    expect(left?.role).toBe('sandbox');

    const cleanup = await context.workspace.run(['cleanup']);
    expect(cleanup.code).toBe(0);
    expect(cleanup.stdout).toContain(`removed container ${left?.id} (sandbox of drill orders`);
    expect(await containersOf(running.child.pid)).toEqual([]);
  });

  it('runs pg_dump in a postgres:<server major> container with backup.tool: docker, and records it', async () => {
    await context.workspace.writeFile('drills/orders.yaml', drillFile({ backup: '{ tool: docker }', restore: DOCKER_RESTORE }));
    const result = await context.workspace.run(['run', 'orders', '--json']);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as Report;
    expect(report.backup?.targets[0]?.tool).toBe(`pg_dump (in a container of ${SANDBOX_IMAGE})`);
  });

  it('falls back to a pg_dump container when the host pg_dump is older than the server (backup.tool: auto)', async () => {
    await fakePgDump(`${context.workspace.directory}/old-bin`, (real) => `exec ${real} "$@"`, '12.22');
    await context.workspace.writeFile(
      'drills/orders.yaml',
      drillFile({ backup: `{ tool: auto, binDir: ${context.workspace.directory}/old-bin }`, restore: '{ sandbox: local }' }),
    );
    const result = await context.workspace.run(['run', 'orders', '--json']);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as Report;
    expect(report.backup?.targets[0]?.tool).toBe(`pg_dump (in a container of ${SANDBOX_IMAGE})`);
  });
});
