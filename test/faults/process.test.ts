import { readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DRILL, reportOf, useFaultScene } from '../support/fault-scene.ts';
import { ageObjects } from '../support/s3.ts';
import { createSourceDatabase, drillFile, fakePgDump } from '../support/source-database.ts';
import { processesMentioning } from '../support/workspace.ts';
import { waitFor } from '../support/wait.ts';

/**
 * firedrill itself killed: SIGKILL (nothing of firedrill runs after it, as
 * in an OOM kill or a lost machine) during the upload of a backup, during the
 * restore and during a check, and SIGTERM during an upload. A half-written
 * backup is never listed as complete; `firedrill repair` removes it and
 * aborts its upload, and `firedrill cleanup` or simply the next run removes
 * the sandbox it left. (SIGKILL during a restore into a container:
 * test/e2e/docker.test.ts.)
 */

const scene = useFaultScene();

const SLOW_CHECK = '  - { name: slow, type: sql, query: "select pg_sleep(60) is not null", timeout: 2m }';

/** Starts a drill and follows its debug log, until `until` is logged. */
async function startUntil(logged: string, what: string): Promise<ReturnType<typeof scene.startDrill>> {
  const running = scene.startDrill();
  let stderr = '';
  running.child.stderr?.on('data', (chunk: string) => (stderr += chunk));
  await waitFor(() => stderr.includes(logged) || running.child.exitCode !== null, what, 60_000);
  expect(running.child.exitCode, `the run ended before ${what}: ${stderr.slice(-2000)}`).toBeNull();
  return running;
}

let bigUrl: string | undefined;

async function bigDrill(backup?: string): Promise<void> {
  // A database big enough that its upload takes several 5 MiB parts: random text barely compresses.
  bigUrl ??= await createSourceDatabase(
    scene.source,
    'big',
    "create table blobs as select g as id, string_agg(md5(random()::text), '') as body from generate_series(1, 6000) g, generate_series(1, 120) part group by g",
  );
  await scene.writeDrill(drillFile({ backup, checks: '  - { name: rows, type: sql, query: "select count(*) from blobs", expect: { min: 1 } }' }).replace('url: ${SOURCE_URL}', `url: ${bigUrl}`));
}

describe('firedrill killed', () => {
  it('SIGKILL during the upload: the half-written backup is listed as incomplete, never complete, and repair removes it and its upload', async () => {
    await bigDrill();
    const running = scene.startDrill();
    await waitFor(async () => (await scene.peer.openUploads()).some((upload) => upload.parts > 0), 'the first uploaded part', 60_000);
    running.child.kill('SIGKILL');
    expect((await running.result).signal).toBe('SIGKILL');

    const listed = await scene.backups();
    expect(listed.filter((entry) => entry.status === 'complete').map((entry) => entry.id)).toEqual([scene.earlier.id]);
    const half = listed.find((entry) => entry.id !== scene.earlier.id);
    expect(half?.status).toBe('incomplete');
    expect(await scene.peer.openUploads()).toHaveLength(1);

    // Its writer provably ran on this machine and is gone: repair says so, and when it will take the backup.
    const early = await scene.cli(['repair', DRILL]);
    expect(early.code, early.stderr).toBe(0);
    expect(early.stdout).toMatch(new RegExp(`kept incomplete backup ${half?.id}: left behind by pid ${running.child.pid} on this machine, which no longer runs; repair removes it once it has been silent for 3 minutes \\(in \\d+s\\)`));
    // Three minutes later (the marker's time set back):
    await ageObjects(join(scene.peer.directory, scene.peer.bucket, scene.prefix), 3 * 60_000, scene.earlier.id);
    const repaired = await scene.cli(['repair', DRILL]);
    expect(repaired.code, repaired.stderr).toBe(0);
    expect(repaired.stdout).toContain(`removed incomplete backup ${half?.id}`);
    expect(repaired.stdout).toMatch(/aborted multipart upload of /);
    expect((await scene.backups()).map((entry) => [entry.id, entry.status])).toEqual([[scene.earlier.id, 'complete']]);
    // No pg_dump of the killed run is still reading the source (firedrill's dumps run with --snapshot).
    expect((await processesMentioning('pg_dump')).filter((line) => line.includes('--snapshot'))).toEqual([]);
  });

  it('SIGKILL during a dump into a local repository: pg_dump and its pipeline die with firedrill; never listed as complete; repair removes it', async () => {
    const config = join(scene.workspace.directory, 'config/firedrill.yaml');
    await writeFile(config, `defaults: { repository: offsite }\n${(await readFile(config, 'utf8')).replace('repositories:\n', 'repositories:\n  nearby: { type: local, path: ./var/nearby }\n')}`);
    // The real dump, then a pg_dump that keeps its output open (as one waiting for a lock or a slow table would),
    // with a sleep of a length nothing else on the machine uses, to find exactly this process.
    const sleeper = `sleep 60.${process.pid}${Date.now() % 1000}`;
    await fakePgDump(join(scene.workspace.directory, 'slow-bin'), (real) => `${real} "$@"\nexec ${sleeper}`);
    await scene.writeDrill(drillFile({ backup: '{ binDir: ./slow-bin, tool: host, repository: nearby }' }));
    const running = await startUntil('"phase":"backup.dump","msg":"phase started"', 'the dump to start');
    await waitFor(async () => (await processesMentioning(sleeper)).length > 0, 'pg_dump to hold its output open');
    running.child.kill('SIGKILL');
    await running.result;

    // pg_dump | zstd write straight into the backup file, with no firedrill in between: the kernel ends them
    // with firedrill (PR_SET_PDEATHSIG), instead of their running on, holding locks on the source, for a backup no manifest will name.
    const drillDirectory = join(scene.workspace.directory, 'var/nearby', DRILL);
    await waitFor(async () => (await processesMentioning(sleeper)).length === 0 && (await processesMentioning(drillDirectory)).length === 0, 'the dump pipeline to die', 3_000);

    const listed = JSON.parse((await scene.cli(['backups', DRILL, '--json'])).stdout) as { id: string; status: string; problem?: string }[];
    expect(listed.map((entry) => entry.status)).toEqual(['incomplete']);
    // Three minutes of silence later (the marker's time set back), repair removes it.
    await ageFiles(drillDirectory, 3 * 60_000);
    const repaired = await scene.cli(['repair', DRILL]);
    expect(repaired.code, repaired.stderr).toBe(0);
    expect(repaired.stdout).toContain(`removed incomplete backup ${listed[0]?.id}`);
    expect(await readdir(drillDirectory)).toEqual([]);
  });

  it('SIGKILL during the restore: the sandbox it left is removed by `firedrill cleanup`', async () => {
    await scene.writeDrill(drillFile({ restore: '{ sandbox: local, prepare: "select pg_sleep(60)" }' }));
    const running = await startUntil('"phase":"restore.prepare","msg":"phase started"', 'the restore to be under way');
    running.child.kill('SIGKILL');
    await running.result;
    // The debris a killed run leaves: a server still running, in a directory of TMPDIR.
    const left = (await readdir(scene.workspace.temporary)).filter((name) => name.startsWith('firedrill-sandbox-'));
    expect(left).toHaveLength(1);
    expect(await processesMentioning(scene.workspace.temporary)).not.toEqual([]);

    const cleanup = await scene.cli(['cleanup']);
    expect(cleanup.code, cleanup.stderr).toBe(0);
    expect(cleanup.stdout).toContain(`removed local cluster ${join(scene.workspace.temporary, left[0] as string)} (its server stopped)`);
    expect(await readdir(scene.workspace.temporary)).toEqual([]);
    expect(await processesMentioning(scene.workspace.temporary)).toEqual([]);
  });

  it('SIGKILL during a check: the committed backup stays valid, and the next run removes the sandbox left behind', async () => {
    await scene.writeDrill(drillFile({ checks: SLOW_CHECK }));
    const running = await startUntil('"phase":"check:slow","msg":"phase started"', 'the slow check to start');
    running.child.kill('SIGKILL');
    await running.result;
    expect((await readdir(scene.workspace.temporary)).filter((name) => name.startsWith('firedrill-sandbox-'))).toHaveLength(1);
    // The backup was committed (manifest last) before the checks: it is complete.
    expect((await scene.backups()).filter((entry) => entry.status === 'complete')).toHaveLength(2);

    await scene.writeDrill();
    const next = await scene.drill();
    expect(reportOf(next).status, next.stderr.slice(-2000)).toBe('passed');
    expect(await readdir(scene.workspace.temporary)).toEqual([]);
    expect(await processesMentioning(scene.workspace.temporary)).toEqual([]);
  });

  it('SIGTERM during the upload: the run is reported aborted, its upload aborted, and nothing is listed', async () => {
    await bigDrill();
    const running = scene.startDrill();
    await waitFor(async () => (await scene.peer.openUploads()).some((upload) => upload.parts > 0), 'the first uploaded part', 60_000);
    running.child.kill('SIGTERM');
    const result = await running.result;
    expect(result.code, result.stderr.slice(-4000)).toBe(2);
    expect(result.stderr).toContain('firedrill: SIGTERM received; stopping and cleaning up');
    const report = reportOf(result);
    expect(report.status).toBe('aborted');
    expect(report.error).toMatchObject({ kind: 'aborted', phase: 'backup.dump' });
    expect(report.backup).toBeUndefined();
    expect((await scene.backups()).map((entry) => [entry.id, entry.status])).toEqual([[scene.earlier.id, 'complete']]);
    expect(await scene.peer.openUploads()).toEqual([]);
  });
});

/** Sets every file and directory below `directory` back by `ageMs`, as if last written that long ago. */
async function ageFiles(directory: string, ageMs: number): Promise<void> {
  const when = new Date(Date.now() - ageMs);
  for (const entry of await readdir(directory, { recursive: true })) {
    const path = join(directory, entry);
    if ((await stat(path)).isFile()) await utimes(path, when, when);
  }
}
