import type { ChildProcess } from 'node:child_process';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useSourceDatabase } from '../support/lifecycle.ts';
import { createSourceDatabase } from '../support/source-database.ts';
import { processesMentioning, type CliResult, type Workspace } from '../support/workspace.ts';
import type { Report } from '../../src/report/report.ts';

/**
 * `firedrill serve` as a process, on loopback: drills on a schedule of a few
 * seconds, /metrics and the API against what they did, on-demand runs with
 * and without the token, SIGTERM in the middle of a drill (aborted, nothing
 * left behind), and three replicas sharing one PostgreSQL coordinator, one
 * of them killed midway, with every fire run exactly once.
 */

const context = useSourceDatabase();
const TOKEN = 'canary-api-token-91c0de';

/** A small files drill: fast enough to run every few seconds on two cores. */
async function filesDrill(workspace: Workspace, name: string, options: { schedule?: string; checks?: string[] } = {}): Promise<void> {
  const root = join(workspace.directory, 'data', name);
  await mkdir(join(root, 'a'), { recursive: true });
  await writeFile(join(root, 'notes.txt'), 'hello\nworld\n');
  await writeFile(join(root, 'a', 'b.txt'), 'nested\n');
  await workspace.writeFile(
    `drills/${name}.yaml`,
    [
      `source: { type: files, paths: [${JSON.stringify(root)}] }`,
      'restore: { sandbox: local }',
      ...(options.schedule ? [`schedule: "${options.schedule}"`] : []),
      'checks:',
      ...(options.checks ?? ['{ type: files }']).map((check) => `  - ${check}`),
      '',
    ].join('\n'),
  );
}

interface Service {
  child: ChildProcess;
  result: Promise<CliResult>;
  url: string;
  stdout: () => string;
}

/** Starts `firedrill serve` and waits for the line that says where it listens. */
async function startService(workspace: Workspace, env: Record<string, string> = {}): Promise<Service> {
  const { child, result } = workspace.start(['serve'], { FIREDRILL_API_TOKEN: TOKEN, ...env });
  let stdout = '';
  child.stdout?.on('data', (chunk: string) => (stdout += chunk));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start within 20 s; stdout: ${stdout}`)), 20_000);
    const look = () => {
      const match = /^firedrill serve: (http:\/\/127\.0\.0\.1:\d+) /m.exec(stdout);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout?.on('data', look);
    void result.then((ended) => reject(new Error(`serve exited (${ended.code}) before listening: ${ended.stderr}`)));
  });
  return { child, result, url, stdout: () => stdout };
}

async function json<T>(url: string, init?: RequestInit): Promise<{ status: number; body: T }> {
  const response = await fetch(url, init);
  return { status: response.status, body: (await response.json()) as T };
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

describe('firedrill serve', () => {
  it('runs a drill on its schedule, shows it in /metrics and the API, and runs one on demand only with the token', async () => {
    const { workspace } = context;
    await workspace.writeFile('config/firedrill.yaml', 'server: { port: 0, token: { env: FIREDRILL_API_TOKEN } }\nscheduler: { shutdownGrace: 5s }\n');
    await filesDrill(workspace, 'uploads', { schedule: '*/3 * * * * *' });
    await filesDrill(workspace, 'archive');
    const service = await startService(workspace);
    try {
      expect((await json(`${service.url}/healthz`)).status).toBe(200);
      expect((await json(`${service.url}/readyz`)).status).toBe(200);

      // The schedule fires within 3 s; its report shows in the API.
      const scheduled = await waitFor('a scheduled run', async () => {
        const runs = await json<{ runs?: { runId: string; status: string }[] } | { runId: string; status: string }[]>(`${service.url}/api/drills/uploads/runs`);
        const list = Array.isArray(runs.body) ? runs.body : (runs.body.runs ?? []);
        return list.find((run) => run.status === 'passed');
      });
      const report = (await json<Report>(`${service.url}/api/runs/${scheduled.runId}`)).body;
      expect(report).toMatchObject({ drill: 'uploads', status: 'passed', trigger: { kind: 'schedule' } });

      const metrics = await (await fetch(`${service.url}/metrics`)).text();
      expect(metrics).toMatch(/^firedrill_drill_status\{drill="uploads"\} 1$/m);
      expect(metrics).toMatch(/^firedrill_scheduler_next_run_timestamp_seconds\{drill="uploads"\} \d+/m);
      expect(metrics).toMatch(/^firedrill_scheduler_queue_length \d+$/m);

      // On demand: the token is required, and checked before anything else.
      const run = `${service.url}/api/drills/archive/run`;
      expect((await fetch(run, { method: 'POST' })).status).toBe(401);
      expect((await fetch(run, { method: 'POST', ...bearer('not-the-token') })).status).toBe(403);
      expect((await fetch(`${service.url}/api/drills/nosuch/run`, { method: 'POST', ...bearer(TOKEN) })).status).toBe(404);
      const accepted = await json<{ runId: string }>(run, { method: 'POST', ...bearer(TOKEN) });
      expect(accepted.status).toBe(202);
      const again = await fetch(run, { method: 'POST', ...bearer(TOKEN) });
      // Still queued or running: refused; already done: accepted again. Both are right, a 5xx is not.
      expect([202, 409]).toContain(again.status);
      const onDemand = await waitFor('the on-demand run', async () => {
        const response = await json<Report>(`${service.url}/api/runs/${accepted.body.runId}`);
        return response.status === 200 && response.body.status === 'passed' ? response.body : undefined;
      });
      expect(onDemand).toMatchObject({ drill: 'archive', trigger: { kind: 'api' } });
    } finally {
      service.child.kill('SIGTERM');
    }
    const ended = await service.result;
    expect(ended.code, ended.stderr).toBe(0);
    expect(service.stdout()).toContain('firedrill serve: stopped');
    expect(`${ended.stdout}${ended.stderr}`).not.toContain(TOKEN);
  });

  it('aborts a running drill on SIGTERM after the grace period, records it as aborted, and leaves nothing behind', async () => {
    const { workspace } = context;
    await workspace.writeFile('config/firedrill.yaml', 'server: { port: 0, token: { env: FIREDRILL_API_TOKEN } }\nscheduler: { shutdownGrace: 1s }\n');
    await filesDrill(workspace, 'slow', { checks: ['{ name: takes long, type: command, command: [sleep, "119.9"], timeout: 10m }'] });
    await filesDrill(workspace, 'waiting');
    const service = await startService(workspace);
    const accepted = await json<{ runId: string }>(`${service.url}/api/drills/slow/run`, { method: 'POST', ...bearer(TOKEN) });
    expect(accepted.status).toBe(202);
    // Wait until the check's `sleep` runs: the drill is in the middle of its checks.
    await waitFor('the check to start', async () => ((await processesMentioning('sleep 119.9')).length > 0 ? true : undefined));
    // One at a time (scheduler.concurrency 1): the next waits in the queue.
    const queued = await json<{ runId: string; queued: boolean }>(`${service.url}/api/drills/waiting/run`, { method: 'POST', ...bearer(TOKEN) });
    expect(queued.body.queued).toBe(true);
    // A reload while a drill runs changes nothing for it.
    service.child.kill('SIGHUP');
    await new Promise((resolve) => setTimeout(resolve, 1000));

    const stoppedAt = Date.now();
    service.child.kill('SIGTERM');
    const ended = await service.result;
    expect(ended.code, ended.stderr).toBe(0);
    expect(ended.stderr).toContain('SIGHUP: config reloaded');
    expect(Date.now() - stoppedAt).toBeLessThan(20_000);
    const report = JSON.parse(await readFile(join(workspace.directory, 'var/reports/slow', `${accepted.body.runId}.json`), 'utf8')) as Report;
    expect(report.status).toBe('aborted');
    expect(report.error?.message).toContain('the service is shutting down');
    expect(report.checks[0]?.status).toBe('interrupted');
    // The queued run never started, and still has its answer.
    const dropped = JSON.parse(await readFile(join(workspace.directory, 'var/reports/waiting', `${queued.body.runId}.json`), 'utf8')) as Report;
    expect(dropped).toMatchObject({ status: 'aborted', trigger: { kind: 'api' } });
    expect(dropped.phases.filter((phase) => phase.name.startsWith('restore'))).toEqual([]);
    // Nothing left: the check's process is gone, and the afterEach hook checks for temp entries, processes and containers.
    expect(await processesMentioning('sleep 119.9')).toEqual([]);
    expect(await workspace.leftovers()).toEqual({ temporaryEntries: [], processes: [], containers: [] });
  });

  it('runs every fire exactly once across three replicas sharing a PostgreSQL coordinator, one of them killed midway', async () => {
    const { workspace, source } = context;
    await createSourceDatabase(source, 'coordination', 'select 1');
    const coordination = new URL(source.url.replace(/\/shop$/, '/coordination'));
    coordination.password = source.password.reveal();
    await workspace.writeFile(
      'config/firedrill.yaml',
      'server: { port: 0 }\nscheduler: { shutdownGrace: 10s }\ncoordination: { postgres: { env: COORDINATION_URL } }\n',
    );
    await filesDrill(workspace, 'shared', { schedule: '*/4 * * * * *' });
    const env = { COORDINATION_URL: coordination.href };
    const replicas = [await startService(workspace, env), await startService(workspace, env), await startService(workspace, env)];
    const startedAt = Date.now();

    await new Promise((resolve) => setTimeout(resolve, 20_000));
    replicas[1]?.child.kill('SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 24_000));
    for (const replica of [replicas[0], replicas[2]]) replica?.child.kill('SIGTERM');
    for (const replica of [replicas[0], replicas[2]]) expect((await replica?.result)?.code).toBe(0);
    await replicas[1]?.result;
    // The killed replica may have left a run's debris: what the next cleanup removes.
    expect((await workspace.run(['cleanup'])).code).toBe(0);

    // Every run keeps its report in the repository, with the fire it was for.
    const directory = join(workspace.directory, 'var/backups/shared/reports');
    const reports = await Promise.all((await readdir(directory)).map(async (name) => JSON.parse(await readFile(join(directory, name), 'utf8')) as Report));
    const fires = reports.map((report) => (report.trigger?.kind === 'schedule' ? report.trigger.scheduledFor : 'not scheduled')).sort();
    expect(new Set(fires).size, `fires: ${fires.join(', ')}`).toBe(fires.length);
    const times = fires.map((fire) => Date.parse(fire));
    // 44 s of 4-second fires: about 11. Between the first and the last, none is missing but the one the killed replica may have held.
    expect(times.length).toBeGreaterThanOrEqual(8);
    const expectedBetween = ((times.at(-1) as number) - (times[0] as number)) / 4000 + 1;
    expect(times.length).toBeGreaterThanOrEqual(expectedBetween - 1);
    expect(times[0]).toBeLessThan(startedAt + 8_000);
    // The fires after the kill ran too: a dead replica blocks nothing.
    expect(times.at(-1)).toBeGreaterThan(startedAt + 36_000);
    expect(reports.every((report) => report.status === 'passed' || report.status === 'aborted')).toBe(true);
  });
});
