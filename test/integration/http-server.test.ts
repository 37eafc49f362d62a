import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDrills, loadRunnerConfig, type DrillConfig, type RunnerConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/logger.ts';
import { repositoryFor } from '../../src/repository/registry.ts';
import { renderReportJson } from '../../src/report/json-file-reporter.ts';
import { REPORT_SCHEMA_VERSION, type Report, type RunStatus } from '../../src/report/report.ts';
import type { RunRequestOutcome, ScheduledDrill, SchedulerView } from '../../src/interfaces.ts';
import { startHttpServer, type StartedHttpServer } from '../../src/server/http-server.ts';

/**
 * The HTTP server of `firedrill serve`, started for real on 127.0.0.1 with
 * config and drill files loaded the way `serve` loads them, reports on disk
 * and in a local repository, and a small stand-in for the scheduler (it is
 * seen only through SchedulerView; the real one is tested end to end with
 * `serve`). Every request goes over the network with fetch.
 */

const TOKEN = `fd-token-${randomBytes(12).toString('hex')}`;
const WRONG_TOKEN = `fd-wrong-${randomBytes(12).toString('hex')}`;
const DAY = 86_400_000;
const RUNNING_RUN = '20261126T145900Z-0000aa';
const QUEUED_RUN = '20261126T145930Z-0000bb';

let directory = '';
let runner: RunnerConfig;
let drills: DrillConfig[];
let server: StartedHttpServer;
const logLines: string[] = [];
const responseTexts: string[] = [];
const scheduler = fakeScheduler();

/** A scheduler as the server sees it: state the tests set, and a record of what was asked of it. */
function fakeScheduler() {
  const state = {
    ready: true,
    shuttingDown: false,
    /** Makes drills() throw, as a scheduler with a bug would. */
    broken: false,
    /** Drills a replica elsewhere is running. */
    elsewhere: new Set<string>(),
    requested: [] as string[],
    entries: [
      { drill: 'orders', schedule: '0 3 * * *', timezone: 'Europe/Berlin', nextRunAt: new Date('2026-11-27T02:00:00.000Z'), activity: 'idle', runId: undefined },
      { drill: 'payments', schedule: '30 2 * * 1', timezone: 'UTC', nextRunAt: new Date('2026-11-30T02:30:00.000Z'), activity: 'running', runId: RUNNING_RUN },
      { drill: 'uploads', schedule: undefined, timezone: 'UTC', nextRunAt: undefined, activity: 'queued', runId: QUEUED_RUN },
    ] as ScheduledDrill[],
  };
  const view: SchedulerView & { state: typeof state } = {
    state,
    get ready() {
      return state.ready;
    },
    drills: () => {
      if (state.broken) throw new Error('the scheduler broke while listing drills');
      return state.entries.map((entry) => ({ ...entry }));
    },
    queueLength: () => state.entries.filter((entry) => entry.activity === 'queued').length,
    runningCount: () => state.entries.filter((entry) => entry.activity === 'running').length,
    async requestRun(drill: string): Promise<RunRequestOutcome> {
      state.requested.push(drill);
      const entry = state.entries.find((candidate) => candidate.drill === drill);
      if (!entry) return { outcome: 'unknown drill' };
      if (state.shuttingDown) return { outcome: 'shutting down' };
      if (entry.activity !== 'idle') return { outcome: 'already running', runId: entry.runId, where: 'here' };
      if (state.elsewhere.has(drill)) return { outcome: 'already running', runId: undefined, where: 'another replica' };
      entry.activity = 'running';
      entry.runId = '20261126T150000Z-0000cc';
      return { outcome: 'accepted', runId: entry.runId, queued: false };
    },
  };
  return view;
}

function runIdAt(date: Date, suffix: string): string {
  return `${date.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '')}-${suffix}`;
}

/** A realistic report of a run `daysAgo` days before 2026-11-26 12:00 UTC. */
function report(drill: string, daysAgo: number, status: RunStatus, suffix: string): Report {
  const started = new Date(Date.parse('2026-11-26T12:00:00.000Z') - daysAgo * DAY);
  const at = (offset: number) => new Date(started.getTime() + offset).toISOString();
  const passed = status === 'passed';
  const rtoSeconds = status === 'error' ? null : 110 + daysAgo;
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    firedrillVersion: '0.1.0',
    drill,
    runId: runIdAt(started, suffix),
    status,
    summary: passed ? `passed: 2 checks passed, RTO ${rtoSeconds}s within 10m, RPO 5m 1s within 26h` : status === 'failed' ? 'failed: 1 of 2 checks failed (orders exist)' : 'error: the sandbox did not start',
    startedAt: at(0),
    finishedAt: at(200_000),
    durationMs: 200_000,
    host: 'drill-runner-01',
    phases: [
      { name: 'backup', startedAt: at(0), durationMs: 70_000, status: 'ok' },
      { name: 'backup.dump', startedAt: at(1_000), durationMs: 66_000, status: 'ok' },
      { name: 'restore', startedAt: at(70_000), durationMs: 100_000, status: status === 'error' ? 'failed' : 'ok' },
      { name: 'checks', startedAt: at(170_000), durationMs: 30_000, status: passed ? 'ok' : 'failed' },
    ],
    checks: [
      { name: 'orders exist', type: 'sql', status: passed ? 'passed' : 'failed', message: passed ? 'returned 5000' : 'returned 0; expected at least 1000', durationMs: 4_000 },
      { name: 'nothing lost', type: 'fingerprint', status: 'passed', message: 'matches the source snapshot', durationMs: 18_000 },
    ],
    measured: { rtoSeconds, rpoSeconds: 301, backupAgeSeconds: 1, dataAgeAtSnapshotSeconds: 300 },
    objectives: {
      rto: { limit: '10m', limitSeconds: 600, measuredSeconds: rtoSeconds, status: rtoSeconds === null ? 'not measured' : 'met' },
      rpo: { limit: '26h', limitSeconds: 93_600, measuredSeconds: 301, status: 'met' },
    },
    backup: {
      id: runIdAt(started, 'b' + suffix.slice(1)),
      repository: 'local',
      reused: false,
      createdAt: at(1_000),
      snapshotAt: at(1_050),
      sizeBytes: 104_857_600,
      sha256: 'c5ce3735993cbc7289b07655ea5ce9a5eaf6a8aabe4df934abed8b692596790b',
      objects: [{ name: 'source.pgdump.zst', target: 'source', sizeBytes: 104_857_600, contentSizeBytes: 419_430_400, sha256: 'a'.repeat(64), compression: 'zstd', encrypted: false }],
      targets: [{ name: 'source', engine: 'postgres', source: 'postgres://app@orders-db.internal:5432/orders', serverVersion: '16.4', tool: 'pg_dump', toolVersion: '16.4' }],
    },
    ...(status === 'error' ? { error: { kind: 'sandbox', phase: 'restore.sandbox', message: 'no Docker engine answers at /var/run/docker.sock' } } : {}),
  };
}

// orders: three runs on this machine, the newest passed. payments: the newest failed, and one older run only in the repository.
const ORDERS = [report('orders', 0, 'passed', '0000a1'), report('orders', 1, 'failed', '0000a2'), report('orders', 2, 'passed', '0000a3')];
const PAYMENTS_LOCAL = [report('payments', 0, 'failed', '0000b1')];
const PAYMENTS_STORED = report('payments', 3, 'passed', '0000b2');

async function setUp(): Promise<void> {
  directory = await mkdtemp(join(tmpdir(), 'firedrill-http-'));
  const file = async (path: string, text: string) => {
    await mkdir(join(directory, path, '..'), { recursive: true });
    await writeFile(join(directory, path), text);
  };
  await file(
    'config/firedrill.yaml',
    [
      'repositories:',
      '  local: { type: local, path: ./var/backups }',
      'defaults: { repository: local, sandbox: local }',
      'reports: { dir: ./var/reports }',
      'server: { host: 127.0.0.1, port: 0, token: { env: FIREDRILL_TEST_SERVER_TOKEN } }',
      '',
    ].join('\n'),
  );
  await file('drills/orders.yaml', 'description: The orders database\nsource: { type: postgres, url: "postgres://app@orders-db.internal:5432/orders" }\nobjectives: { rto: 10m, rpo: 26h }\nschedule: "0 3 * * *"\ntimezone: Europe/Berlin\n');
  await file('drills/payments.yaml', 'source: { type: postgres, url: "postgres://app@payments-db.internal:5432/payments" }\nobjectives: { rto: 15m }\nschedule: "30 2 * * 1"\n');
  await file('drills/uploads.yaml', 'description: Uploaded files\nsource: { type: files, paths: [../data] }\n');
  const env = { FIREDRILL_TEST_SERVER_TOKEN: TOKEN };
  runner = await loadRunnerConfig(undefined, { cwd: directory, env });
  const loaded = await loadDrills(undefined, runner, { cwd: directory, env });
  expect(loaded.problems).toEqual(new Map());
  drills = loaded.drills;
  for (const run of [...ORDERS, ...PAYMENTS_LOCAL]) await file(`var/reports/${run.drill}/${run.runId}.json`, renderReportJson(run));
  // A run made on another machine: its report is only beside the backups.
  await repositoryFor(runner, drills.find((drill) => drill.name === 'payments')!).saveRunResult('payments', PAYMENTS_STORED.runId, renderReportJson(PAYMENTS_STORED));
}

beforeAll(async () => {
  await setUp();
  const logger = createLogger({ level: 'debug', destination: { write: (line) => logLines.push(line) } });
  server = await startHttpServer({ host: '127.0.0.1', port: 0, token: runner.server.token, scheduler, runner, drills: () => drills, logger });
});

afterAll(async () => {
  await server?.close();
  if (directory) await rm(directory, { recursive: true, force: true });
});

/** fetch, with the answer's text kept for the check that no answer ever holds the token. */
async function call(path: string, init: RequestInit = {}) {
  const response = await fetch(`${server.url}${path}`, init);
  const text = await response.text();
  responseTexts.push(text, JSON.stringify([...response.headers]));
  let json;
  if (text !== '' && response.headers.get('content-type')?.startsWith('application/json')) json = JSON.parse(text);
  return { response, text, json };
}

/** A request whose path is sent byte for byte as written (fetch would resolve `..` before sending). */
function rawGet(path: string): Promise<{ status: number; body: string }> {
  const { port } = server;
  return new Promise((resolve, reject) => {
    const request = httpRequest({ host: '127.0.0.1', port, path, method: 'GET' }, (response) => {
      let body = '';
      response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.on('error', reject);
    request.end();
  });
}

function expectCommonHeaders(response: Response): void {
  expect(response.headers.get('cache-control')).toBe('no-store');
  expect(response.headers.get('x-content-type-options')).toBe('nosniff');
}

describe('health checks', () => {
  it('answers /healthz with 200 while up, and /readyz with 200 only while the scheduler is ready', async () => {
    const health = await call('/healthz');
    expect(health.response.status).toBe(200);
    expect(health.json).toEqual({ status: 'ok' });
    expect(health.response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expectCommonHeaders(health.response);

    expect((await call('/readyz')).response.status).toBe(200);
    scheduler.state.ready = false;
    try {
      const notReady = await call('/readyz');
      expect(notReady.response.status).toBe(503);
      expect(notReady.json).toMatchObject({ status: 'not ready', error: expect.stringContaining('not ready yet') });
      expect((await call('/healthz')).response.status).toBe(200);
    } finally {
      scheduler.state.ready = true;
    }
  });
});

describe('the JSON API', () => {
  it('lists every configured drill with its schedule, activity and last run', async () => {
    const { response, json } = await call('/api/drills');
    expect(response.status).toBe(200);
    expectCommonHeaders(response);
    const listed = json.drills;
    expect(listed.map((drill: { name: string }) => drill.name)).toEqual(['orders', 'payments', 'uploads']);
    expect(listed[0]).toEqual({
      name: 'orders',
      description: 'The orders database',
      schedule: '0 3 * * *',
      timezone: 'Europe/Berlin',
      nextRunAt: '2026-11-27T02:00:00.000Z',
      activity: 'idle',
      runId: null,
      objectives: { rtoSeconds: 600, rpoSeconds: 93_600 },
      lastRun: {
        runId: ORDERS[0]!.runId,
        drill: 'orders',
        status: 'passed',
        startedAt: ORDERS[0]!.startedAt,
        finishedAt: ORDERS[0]!.finishedAt,
        durationMs: 200_000,
        rtoSeconds: 110,
        rpoSeconds: 301,
        summary: ORDERS[0]!.summary,
        links: { report: `/api/runs/${ORDERS[0]!.runId}`, html: `/reports/orders/${ORDERS[0]!.runId}.html` },
      },
      problems: [],
    });
    expect(listed[1]).toMatchObject({ name: 'payments', activity: 'running', runId: RUNNING_RUN, lastRun: { status: 'failed' } });
    expect(listed[2]).toMatchObject({ name: 'uploads', schedule: null, activity: 'queued', runId: QUEUED_RUN, lastRun: null });
  });

  it("lists a drill's runs newest first, from this machine and its repository, as summaries", async () => {
    const payments = await call('/api/drills/payments/runs');
    expect(payments.response.status).toBe(200);
    expect(payments.json.runs.map((run: { runId: string }) => run.runId)).toEqual([PAYMENTS_LOCAL[0]!.runId, PAYMENTS_STORED.runId]);
    expect(payments.json.runs[0]).not.toHaveProperty('phases');

    const limited = await call('/api/drills/orders/runs?limit=2');
    expect(limited.json).toMatchObject({ drill: 'orders', problems: [] });
    expect(limited.json.runs.map((run: { status: string }) => run.status)).toEqual(['passed', 'failed']);
    expect((await call('/api/drills/orders/runs?limit=5000')).json.runs).toHaveLength(3);
  });

  it('refuses a limit that is not a whole number, and an unknown drill', async () => {
    const bad = await call('/api/drills/orders/runs?limit=ten');
    expect(bad.response.status).toBe(400);
    expect(bad.json.error).toMatch(/^limit must be a whole number from 1 to 200/);
    const unknown = await call('/api/drills/nope/runs');
    expect(unknown.response.status).toBe(404);
    expect(unknown.json).toEqual({ error: 'no drill "nope" is configured; GET /api/drills lists the drills' });
  });

  it('gives a whole report by run id, from this machine or the repository', async () => {
    const local = await call(`/api/runs/${ORDERS[1]!.runId}`);
    expect(local.response.status).toBe(200);
    expect(local.response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(local.json).toEqual(ORDERS[1]);
    expect((await call(`/api/runs/${PAYMENTS_STORED.runId}`)).json).toEqual(PAYMENTS_STORED);
  });

  it('says a queued or running run is queued or running', async () => {
    expect((await call(`/api/runs/${RUNNING_RUN}`)).json).toEqual({ runId: RUNNING_RUN, drill: 'payments', status: 'running' });
    expect((await call(`/api/runs/${QUEUED_RUN}`)).json).toEqual({ runId: QUEUED_RUN, drill: 'uploads', status: 'queued' });
  });

  it('answers 404 for a run nobody has, and for what is not a run id', async () => {
    const missing = await call('/api/runs/20200101T000000Z-ffffff');
    expect(missing.response.status).toBe(404);
    expect(missing.json.error).toMatch(/^no configured drill has a report of run 20200101T000000Z-ffffff/);
    const malformed = await call('/api/runs/..%2f..%2fetc%2fpasswd');
    expect(malformed.response.status).toBe(404);
    expect(malformed.json.error).toMatch(/^that is not a run id/);
  });
});

describe('on-demand runs: POST /api/drills/:name/run', () => {
  const post = (path: string, headers: Record<string, string> = {}) => call(path, { method: 'POST', headers });
  const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

  it('asks for the bearer token (401) before saying anything about the drill', async () => {
    for (const headers of [{} as Record<string, string>, { Authorization: `Basic ${Buffer.from(`user:${TOKEN}`).toString('base64')}` }, { Authorization: 'Bearer' }]) {
      for (const drill of ['orders', 'no-such-drill']) {
        const { response, json } = await post(`/api/drills/${drill}/run`, headers);
        expect(response.status).toBe(401);
        expect(response.headers.get('www-authenticate')).toBe('Bearer realm="firedrill"');
        expect(json.error).toMatch(/Authorization: Bearer <token>/);
      }
    }
    expect(scheduler.state.requested).toEqual([]);
  });

  it('refuses a wrong token (403) for known and unknown drills alike', async () => {
    for (const drill of ['orders', 'no-such-drill']) {
      const { response, json } = await post(`/api/drills/${drill}/run`, bearer(WRONG_TOKEN));
      expect(response.status).toBe(403);
      expect(json).toEqual({ error: 'the bearer token is not the one configured in server.token; send that one' });
    }
    expect(scheduler.state.requested).toEqual([]);
  });

  it('answers 404 for an unknown drill once the token is right', async () => {
    const { response, json } = await post('/api/drills/no-such-drill/run', bearer(TOKEN));
    expect(response.status).toBe(404);
    expect(json.error).toBe('no drill "no-such-drill" is configured; GET /api/drills lists the drills');
  });

  it('accepts a run (202) with a link to follow it, then refuses a second one while it runs (409)', async () => {
    const accepted = await post('/api/drills/orders/run', bearer(TOKEN));
    expect(accepted.response.status).toBe(202);
    expect(accepted.json).toEqual({ runId: '20261126T150000Z-0000cc', drill: 'orders', queued: false, links: { run: '/api/runs/20261126T150000Z-0000cc' } });
    expect(accepted.response.headers.get('location')).toBe('/api/runs/20261126T150000Z-0000cc');
    expect((await call('/api/runs/20261126T150000Z-0000cc')).json).toMatchObject({ status: 'running', drill: 'orders' });

    const again = await post('/api/drills/orders/run', bearer(TOKEN));
    expect(again.response.status).toBe(409);
    expect(again.json.error).toBe(
      'drill "orders" is already running here (run 20261126T150000Z-0000cc); follow it at /api/runs/20261126T150000Z-0000cc, and ask again once it has finished',
    );
    const queued = await post('/api/drills/uploads/run', bearer(TOKEN));
    expect(queued.response.status).toBe(409);
    expect(queued.json.error).toMatch(/^drill "uploads" is already queued here/);
  });

  it('says so when another replica runs the drill (409), or firedrill is shutting down (503)', async () => {
    const orders = scheduler.state.entries[0]!;
    Object.assign(orders, { activity: 'idle', runId: undefined });
    scheduler.state.elsewhere.add('orders');
    const elsewhere = await post('/api/drills/orders/run', bearer(TOKEN));
    expect(elsewhere.response.status).toBe(409);
    expect(elsewhere.json.error).toBe('drill "orders" is running on another replica; ask again once it has finished');
    scheduler.state.elsewhere.clear();

    scheduler.state.shuttingDown = true;
    try {
      const stopping = await post('/api/drills/orders/run', bearer(TOKEN));
      expect(stopping.response.status).toBe(503);
      expect(stopping.json.error).toMatch(/^firedrill is shutting down/);
    } finally {
      scheduler.state.shuttingDown = false;
    }
  });

  it('is disabled (403) on a server without a token, saying how to enable it', async () => {
    const tokenless = await startHttpServer({ host: '127.0.0.1', port: 0, token: undefined, scheduler, runner, drills: () => drills, logger: createLogger({ level: 'silent' }) });
    try {
      const response = await fetch(`${tokenless.url}/api/drills/orders/run`, { method: 'POST', headers: bearer(TOKEN) });
      expect(response.status).toBe(403);
      expect(await response.json()).toEqual({ error: 'on-demand runs over HTTP are disabled: set server.token in config/firedrill.yaml' });
    } finally {
      await tokenless.close();
    }
  });

  it('refuses a request body declared larger than 64 KiB (413)', async () => {
    const { response } = await call('/api/drills/orders/run', { method: 'POST', headers: bearer(TOKEN), body: 'x'.repeat(70_000) });
    expect(response.status).toBe(413);
  });
});

describe('reports as HTML pages', () => {
  it("renders a run's HTML report, and the latest one, with the drill's history", async () => {
    const page = await call(`/reports/orders/${ORDERS[1]!.runId}.html`);
    expect(page.response.status).toBe(200);
    expect(page.response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.response.headers.get('content-security-policy')).toMatch(/^default-src 'none'/);
    expectCommonHeaders(page.response);
    expect(page.text).toContain('data-status="failed"');
    expect(page.text).not.toMatch(/<script/i);
    // History up to that run: it and the one before, not the newer one.
    expect(page.text).toContain(ORDERS[2]!.runId);
    expect(page.text).not.toContain(ORDERS[0]!.runId);

    const latest = await call('/reports/payments/latest.html');
    expect(latest.response.status).toBe(200);
    expect(latest.text).toContain(PAYMENTS_LOCAL[0]!.runId);
    expect(latest.text).toContain(PAYMENTS_STORED.runId);
  });

  it('answers 404 for unknown drills, malformed run ids, runs that are not there, and drills without reports', async () => {
    for (const path of ['/reports/nope/latest.html', `/reports/nope/${ORDERS[0]!.runId}.html`, '/reports/orders/not-a-run.html', '/reports/orders/20200101T000000Z-ffffff.html', '/reports/uploads/latest.html']) {
      const { response } = await call(path);
      expect(response.status, path).toBe(404);
      expect(response.headers.get('content-type'), path).toBe('text/plain; charset=utf-8');
    }
    // A report of another drill is not this drill's.
    expect((await call(`/reports/orders/${PAYMENTS_LOCAL[0]!.runId}.html`)).response.status).toBe(404);
  });

  it('answers 404 to path traversal, sent byte for byte', async () => {
    for (const path of [
      '/reports/..%2f..%2fetc/passwd.html',
      '/reports/orders/../../x.html',
      '/reports/orders/..%2f..%2f..%2fetc%2fpasswd.html',
      '/reports/%2e%2e/orders.html',
      '/reports/orders/..',
      '//etc/passwd',
      '/reports//etc/passwd.html',
      '/reports/orders%2f..%2f..%2fetc/passwd.html',
      `/reports/orders/..%2forders%2f${ORDERS[0]!.runId}.html`,
      '/reports/orders/%2e%2e%2f%2e%2e%2fconfig%2ffiredrill.yaml%00.html',
      '/api/drills/..%2f..%2fetc/runs',
    ]) {
      const { status, body } = await rawGet(path);
      expect(status, path).toBe(404);
      expect(body, path).not.toContain('repositories');
    }
  });
});

describe('the dashboard', () => {
  it('is one self-contained page without a script: a row per drill with its status, activity and report link', async () => {
    const { response, text } = await call('/');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expectCommonHeaders(response);
    expect(text).not.toMatch(/<script/i);
    expect(text).toMatch(/<tr data-drill="orders" data-status="passed" data-activity="idle">/);
    expect(text).toMatch(/<tr data-drill="payments" data-status="failed" data-activity="running">/);
    expect(text).toMatch(/<tr data-drill="uploads" data-status="never run" data-activity="queued">/);
    expect(text).toContain(`href="/reports/orders/${ORDERS[0]!.runId}.html"`);
    expect(text).toContain('2026-11-27 03:00');
  });
});

describe('Prometheus metrics', () => {
  it('serves drill, scheduler and process metrics, labelled by drill and phase only', async () => {
    const { response, text } = await call('/metrics');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(text).toContain('firedrill_drill_status{drill="orders"} 1');
    expect(text).toContain('firedrill_drill_status{drill="payments"} 0');
    expect(text).toContain('firedrill_phase_duration_seconds{drill="orders",phase="backup.dump"} 66');
    expect(text).toContain(`firedrill_scheduler_next_run_timestamp_seconds{drill="orders"} ${Date.parse('2026-11-27T02:00:00.000Z') / 1000}`);
    expect(text).not.toContain('firedrill_scheduler_next_run_timestamp_seconds{drill="uploads"}');
    expect(text).toMatch(/^firedrill_scheduler_running_drills \d+$/m);
    expect(text).toMatch(/^firedrill_scheduler_queue_length 1$/m);
    expect(text).toMatch(/^process_cpu_user_seconds_total \S+$/m);
    expect(text).toMatch(/^nodejs_heap_size_total_bytes \S+$/m);

    const samples = text.split('\n').filter((line) => line !== '' && !line.startsWith('#'));
    for (const sample of samples.filter((line) => line.startsWith('firedrill_'))) {
      const labels = [...(/\{(.*)\}/.exec(sample)?.[1] ?? '').matchAll(/(\w+)="/g)].map((match) => match[1]);
      expect(labels.every((label) => label === 'drill' || label === 'phase'), sample).toBe(true);
    }
    // Everything else is prom-client's default process metrics, with their own few labels.
    const others = samples.filter((line) => !line.startsWith('firedrill_'));
    expect(others.length).toBeGreaterThan(10);
    expect(others.every((line) => /^(process|nodejs)_/.test(line))).toBe(true);
  });
});

describe('routing', () => {
  it('answers 404 in JSON for unknown paths, and 405 with Allow for a wrong method', async () => {
    const unknown = await call('/wp-admin');
    expect(unknown.response.status).toBe(404);
    expect(unknown.json.error).toMatch(/^there is nothing at this path/);

    const wrong = await call('/api/drills', { method: 'DELETE' });
    expect(wrong.response.status).toBe(405);
    expect(wrong.response.headers.get('allow')).toBe('GET, HEAD');
    const getRun = await call('/api/drills/orders/run');
    expect(getRun.response.status).toBe(405);
    expect(getRun.response.headers.get('allow')).toBe('POST');
  });

  it('answers 500 with a sentence when answering fails, and logs why', async () => {
    scheduler.state.broken = true;
    try {
      const failed = await call('/api/drills');
      expect(failed.response.status).toBe(500);
      expect(failed.json).toEqual({ error: 'firedrill failed to answer this request; its log says why' });
      expect(failed.text).not.toContain('the scheduler broke');
    } finally {
      scheduler.state.broken = false;
    }
    const logged = logLines.map((line) => JSON.parse(line) as Record<string, unknown>).find((entry) => entry['level'] === 50);
    expect(logged).toMatchObject({ method: 'GET', path: '/api/drills', error: 'the scheduler broke while listing drills', msg: 'the HTTP server failed to answer a request' });
  });

  it('answers HEAD like GET, without a body', async () => {
    const { response, text } = await call('/api/drills', { method: 'HEAD' });
    expect(response.status).toBe(200);
    expect(text).toBe('');
  });
});

describe('secrets and logs', () => {
  it('logs each request at debug with method, path, status and duration, and never the token, the header or the query', async () => {
    await call('/api/drills/orders/runs?limit=1&note=hello-from-the-query');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const requests = logLines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((entry) => entry.msg === 'http request');
    expect(requests).toContainEqual(expect.objectContaining({ level: 20, method: 'GET', path: '/api/drills/orders/runs', status: 200, durationMs: expect.any(Number) }));
    expect(requests).toContainEqual(expect.objectContaining({ method: 'POST', path: '/api/drills/orders/run', status: 403 }));
    expect(requests).toContainEqual(expect.objectContaining({ method: 'POST', path: '/api/drills/orders/run', status: 413 }));
    const everything = [...logLines, ...responseTexts].join('\n');
    expect(everything).not.toContain(TOKEN);
    expect(everything).not.toContain(WRONG_TOKEN);
    expect(everything).not.toContain('hello-from-the-query');
    // Nothing was even masked: the header was never logged (a wrong token, which is no known secret, would not be masked at all).
    expect(logLines.join('\n')).not.toMatch(/authorization|bearer fd-|\[redacted\]/i);
  });
});

describe('close', () => {
  it('stops accepting and resolves promptly, even with an idle keep-alive connection open', async () => {
    const other = await startHttpServer({ host: '127.0.0.1', port: 0, token: undefined, scheduler, runner, drills: () => drills, logger: createLogger({ level: 'silent' }) });
    const response = await fetch(`${other.url}/healthz`);
    expect(response.headers.get('connection')).not.toBe('close');
    await response.text();
    const started = Date.now();
    await other.close();
    expect(Date.now() - started).toBeLessThan(1_000);
    await expect(fetch(`${other.url}/healthz`)).rejects.toThrow();
    await other.close();
  });
});
