import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebhookNotifier, webhookNotifySchema } from '../../src/notify/webhook-notifier.ts';
import type { NotifierContext } from '../../src/notify/notifier.ts';
import type { WebhookPayload, SlackPayload } from '../../src/notify/webhook-payload.ts';
import { NotifyError, type RetryTiming } from '../../src/notify/delivery.ts';
import { parseWithEnvironment } from '../../src/config/common.ts';
import { createLogger } from '../../src/logger.ts';
import { FIREDRILL_VERSION } from '../../src/version.ts';
import { RUN_ID, failedReport, notificationOf, passedReport } from '../unit/notify/sample-report.ts';

/**
 * Webhooks against a real HTTP server on 127.0.0.1 that answers as each test
 * scripts it (500 twice, then 200; 503 with Retry-After; 404; no answer).
 */

interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** `then`: after the status and the body so far, keep the body open forever, or reset the connection. */
type Answer = { status: number; headers?: Record<string, string>; body?: string; then?: 'stall' | 'reset' } | 'hang';

interface Endpoint {
  url: string;
  port: number;
  requests: ReceivedRequest[];
}

const servers: Server[] = [];
const hanging: ServerResponse[] = [];

afterEach(async () => {
  for (const response of hanging.splice(0)) response.destroy();
  await Promise.all(
    servers.splice(0).map(
      (server) =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    ),
  );
  logLines = [];
});

/** An HTTP endpoint that gives the `index`th request (0-based) the answer `answer(index, request)` names. */
async function startEndpoint(answer: (index: number, request: ReceivedRequest) => Answer, path = '/hooks/firedrill'): Promise<Endpoint> {
  const requests: ReceivedRequest[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const received = { method: request.method ?? '', path: request.url ?? '', headers: request.headers, body: Buffer.concat(chunks).toString('utf8') };
      requests.push(received);
      const planned = answer(requests.length - 1, received);
      if (planned === 'hang') {
        hanging.push(response);
        return;
      }
      response.writeHead(planned.status, planned.headers);
      if (planned.then === 'stall') {
        response.write(planned.body ?? '');
        hanging.push(response);
      } else if (planned.then === 'reset') {
        response.write(planned.body ?? '');
        // Late enough that the client has the status: the body breaks off, not the answer.
        setTimeout(() => response.socket?.destroy(), 100);
      } else {
        response.end(planned.body ?? '');
      }
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}${path}`, port, requests };
}

function webhook(config: Record<string, unknown>, env: NodeJS.ProcessEnv = {}, timing: RetryTiming = { baseDelayMs: 5 }): WebhookNotifier {
  const parsed = parseWithEnvironment(webhookNotifySchema, { type: 'webhook', ...config }, env, { resolveSecrets: true });
  if (!parsed.success) throw new Error(JSON.stringify(parsed.error.issues));
  return new WebhookNotifier(parsed.data, timing);
}

let logLines: string[] = [];
function runContext(signal = new AbortController().signal): NotifierContext {
  return { logger: createLogger({ destination: { write: (line) => logLines.push(line) } }), signal };
}

async function rejection(promise: Promise<unknown>): Promise<NotifyError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(NotifyError);
    return error as NotifyError;
  }
  throw new Error('expected the send to fail');
}

const ok: Answer = { status: 200, body: 'ok' };

describe('webhook notifications', () => {
  it('POSTs the versioned JSON payload with firedrill\'s headers', async () => {
    const endpoint = await startEndpoint(() => ok);

    const result = await webhook({ url: endpoint.url }).send(notificationOf(failedReport()), runContext());

    expect(result).toEqual({ attempts: 1 });
    expect(endpoint.requests).toHaveLength(1);
    const [request] = endpoint.requests;
    expect(request?.method).toBe('POST');
    expect(request?.path).toBe('/hooks/firedrill');
    expect(request?.headers['content-type']).toBe('application/json');
    expect(request?.headers['user-agent']).toBe(`firedrill/${FIREDRILL_VERSION}`);
    expect(request?.headers['x-firedrill-signature']).toBeUndefined();
    const payload = JSON.parse(request!.body) as WebhookPayload;
    expect(payload).toMatchObject({
      schemaVersion: 1,
      event: 'failure',
      drill: 'orders',
      runId: RUN_ID,
      status: 'failed',
      rto: { measuredSeconds: 130, limitSeconds: 600, status: 'met' },
      failedChecks: [{ name: 'orders exist', message: 'returned 0, expected at least 1' }],
      backup: { id: '20261126T121301Z-1b0338', sizeBytes: 101_376 },
      error: null,
      host: 'drill-runner-1',
    });
    expect(Object.keys(payload).sort()).toEqual(
      [
        'schemaVersion', 'event', 'drill', 'runId', 'status', 'previousStatus', 'summary', 'startedAt', 'finishedAt', 'durationMs',
        'rto', 'rpo', 'failedChecks', 'moreFailedChecks', 'backup', 'error', 'firedrillVersion', 'host',
      ].sort(),
    );
  });

  it('signs the timestamp and the raw body with the secret, so the receiver can verify both', async () => {
    const endpoint = await startEndpoint(() => ok);
    const key = 'canary-hmac-key-5d8e0b';

    await webhook({ url: endpoint.url, secret: { env: 'HOOK_SECRET' } }, { HOOK_SECRET: key }).send(notificationOf(failedReport()), runContext());

    const { headers, body } = endpoint.requests[0]!;
    const timestamp = String(headers['x-firedrill-timestamp']);
    expect(Math.abs(Number(timestamp) - Date.now() / 1000)).toBeLessThan(10);
    const expected = Buffer.from(`sha256=${createHmac('sha256', key).update(`${timestamp}.${body}`).digest('hex')}`);
    const received = Buffer.from(String(headers['x-firedrill-signature']));
    expect(received.length === expected.length && timingSafeEqual(received, expected)).toBe(true);
    expect(JSON.stringify(headers)).not.toContain(key);
  });

  it('sends extra headers, a secret one included', async () => {
    const endpoint = await startEndpoint(() => ok);

    await webhook({ url: endpoint.url, headers: { Authorization: { env: 'HOOK_TOKEN' }, 'X-Team': 'dba' } }, { HOOK_TOKEN: 'Bearer canary-token-88' }).send(
      notificationOf(failedReport()),
      runContext(),
    );

    expect(endpoint.requests[0]?.headers).toMatchObject({ authorization: 'Bearer canary-token-88', 'x-team': 'dba' });
  });

  it('POSTs a Slack Block Kit message with format: slack', async () => {
    const endpoint = await startEndpoint(() => ok);

    await webhook({ url: endpoint.url, format: 'slack' }).send(notificationOf(passedReport(), 'recovery'), runContext());

    const payload = JSON.parse(endpoint.requests[0]!.body) as SlackPayload;
    expect(payload.text).toBe('RECOVERED orders: 2 checks passed (RTO 12s / 10m)');
    expect(payload.blocks.map((block) => block.type)).toEqual(['header', 'section', 'context']);
    expect(payload.blocks[0]).toMatchObject({ type: 'header', text: { type: 'plain_text', text: ':white_check_mark: orders: RECOVERED' } });
  });
});

describe('webhook retries', () => {
  it('tries again after HTTP 500, counts the attempts, and gives every attempt the same X-Firedrill-Delivery', async () => {
    const endpoint = await startEndpoint((index) => (index < 2 ? { status: 500, body: 'oops' } : ok));

    expect(await webhook({ url: endpoint.url }).send(notificationOf(failedReport()), runContext())).toEqual({ attempts: 3 });
    expect(endpoint.requests).toHaveLength(3);
    expect(endpoint.requests.map((request) => request.headers['x-firedrill-delivery'])).toEqual([RUN_ID, RUN_ID, RUN_ID]);
    expect(logLines.filter((line) => line.includes('retrying in'))).toHaveLength(2);
  });

  it('counts a 2xx as delivered at once, even when its body then stalls or breaks off: no retry, no duplicate', async () => {
    for (const then of ['stall', 'reset'] as const) {
      const endpoint = await startEndpoint(() => ({ status: 200, body: 'accepted, more to come', then }));
      const started = Date.now();

      expect(await webhook({ url: endpoint.url, timeout: '2s' }).send(notificationOf(failedReport()), runContext())).toEqual({ attempts: 1 });
      expect(Date.now() - started).toBeLessThan(1_000);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(endpoint.requests).toHaveLength(1);
    }
  });

  it('does not try again when Retry-After asks for longer than firedrill waits, and says so', async () => {
    const endpoint = await startEndpoint(() => ({ status: 503, headers: { 'Retry-After': '120' } }));

    const error = await rejection(webhook({ url: endpoint.url }, {}, { baseDelayMs: 5, maxDelayMs: 1_000 }).send(notificationOf(failedReport()), runContext()));

    expect(error.attempts).toBe(1);
    expect(error.message).toBe(
      `the endpoint at 127.0.0.1:${endpoint.port} failed (HTTP 503 Service Unavailable) and asked to retry after 2m; not retried (firedrill waits at most 1s)`,
    );
    expect(endpoint.requests).toHaveLength(1);
  });

  it('waits as long as Retry-After asks after HTTP 503', async () => {
    const endpoint = await startEndpoint((index) => (index === 0 ? { status: 503, headers: { 'Retry-After': '1' } } : ok));
    const started = Date.now();

    expect(await webhook({ url: endpoint.url }, {}, { baseDelayMs: 1 }).send(notificationOf(failedReport()), runContext())).toEqual({ attempts: 2 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(logLines.join('\n')).toContain('retrying in 1s');
  });

  it('does not try again when the endpoint refuses the request (HTTP 404), and says to check the URL', async () => {
    const endpoint = await startEndpoint(() => ({ status: 404, body: 'no_service' }));

    const error = await rejection(webhook({ url: endpoint.url }).send(notificationOf(failedReport()), runContext()));

    expect(error.attempts).toBe(1);
    expect(error.message).toBe(`the endpoint at 127.0.0.1:${endpoint.port} refused it (HTTP 404 Not Found: no_service); check the URL`);
    expect(endpoint.requests).toHaveLength(1);
  });

  it('gives up after retries + 1 attempts when the endpoint keeps failing', async () => {
    const endpoint = await startEndpoint(() => ({ status: 500 }));

    const error = await rejection(webhook({ url: endpoint.url, retries: 2 }).send(notificationOf(failedReport()), runContext()));

    expect(error.attempts).toBe(3);
    expect(error.message).toBe(`the endpoint at 127.0.0.1:${endpoint.port} kept failing (HTTP 500 Internal Server Error) after 3 attempts; check the receiving service`);
    expect(endpoint.requests).toHaveLength(3);
  });

  it('counts an endpoint that does not answer in time as a failed attempt', async () => {
    const endpoint = await startEndpoint(() => 'hang');

    const error = await rejection(webhook({ url: endpoint.url, retries: 1, timeout: '200ms' }).send(notificationOf(failedReport()), runContext()));

    expect(error.attempts).toBe(2);
    expect(error.message).toBe(`127.0.0.1:${endpoint.port} did not answer within 200ms after 2 attempts; check that the endpoint is up, or raise timeout`);
  });

  it('says it could not reach a host that refuses connections', async () => {
    const endpoint = await startEndpoint(() => ok);
    await new Promise<void>((resolve) => servers.pop()!.close(() => resolve()));

    const error = await rejection(webhook({ url: endpoint.url, retries: 1 }).send(notificationOf(failedReport()), runContext()));

    expect(error.attempts).toBe(2);
    expect(error.message).toBe(`could not reach 127.0.0.1:${endpoint.port} (ECONNREFUSED) after 2 attempts; check the URL and that this host may connect to it`);
  });

  it('does not try again after a network error that would fail the same way (TLS to a port that speaks plain HTTP)', async () => {
    const endpoint = await startEndpoint(() => ok);

    const error = await rejection(webhook({ url: endpoint.url.replace('http:', 'https:'), retries: 3 }).send(notificationOf(failedReport()), runContext()));

    expect(error.attempts).toBe(1);
    expect(error.message).toMatch(new RegExp(`^could not reach 127\\.0\\.0\\.1:${endpoint.port} \\(.+\\); check the URL`));
  });

  it('stops retrying when the process is stopping', async () => {
    const controller = new AbortController();
    const endpoint = await startEndpoint(() => {
      controller.abort();
      return { status: 500 };
    });
    const started = Date.now();

    const error = await rejection(webhook({ url: endpoint.url, retries: 5 }, {}, { baseDelayMs: 60_000 }).send(notificationOf(failedReport()), runContext(controller.signal)));

    expect(error.attempts).toBe(1);
    expect(error.message).toBe('stopped after 1 attempt: firedrill is stopping; the notification was not sent');
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(endpoint.requests).toHaveLength(1);
  });
});

describe('a webhook URL that carries a token', () => {
  const TOKEN = 'canarytokenA1b2C3d4E5';

  it('keeps the token out of the description and every message when the URL is a secret', async () => {
    // The endpoint echoes the path it was called on, as some do in their errors.
    const endpoint = await startEndpoint((_index, request) => ({ status: 404, body: `no hook at ${request.path}` }), `/services/T000/B000/${TOKEN}`);
    const notifier = webhook({ url: { env: 'SLACK_WEBHOOK_URL' }, format: 'slack' }, { SLACK_WEBHOOK_URL: endpoint.url });

    const error = await rejection(notifier.send(notificationOf(failedReport()), runContext()));

    expect(notifier.description).toBe('webhook (slack) from env SLACK_WEBHOOK_URL');
    expect(endpoint.requests[0]?.path).toBe(`/services/T000/B000/${TOKEN}`);
    expect(error.message).toMatch(/^the endpoint at 127\.0\.0\.1:\d+ refused it \(HTTP 404 Not Found: no hook at \[redacted\]\); check the URL$/);
    for (const text of [notifier.description, error.message, String(error.stack), logLines.join('\n')]) {
      expect(text).not.toContain(TOKEN);
      expect(text).not.toContain('/services/');
    }
  });

  it('names only the host a redirect points to, and leaves out its body, which may echo the token', async () => {
    const endpoint = await startEndpoint(
      (_index, request) => ({ status: 302, headers: { Location: `https://hooks.example.net/services/T000/B000/${TOKEN}` }, body: `moved: ${request.path}` }),
      `/services/T000/B000/${TOKEN}`,
    );
    const notifier = webhook({ url: { env: 'SLACK_WEBHOOK_URL' }, format: 'slack' }, { SLACK_WEBHOOK_URL: endpoint.url });

    const error = await rejection(notifier.send(notificationOf(failedReport()), runContext()));

    expect(error.attempts).toBe(1);
    expect(error.message).toBe(
      `the endpoint at 127.0.0.1:${endpoint.port} answered with a redirect (HTTP 302 Found) to hooks.example.net; redirects are not followed: configure the URL it redirects to`,
    );
  });

  it('names only the host of a plain URL, in the description and in messages about retries', async () => {
    const endpoint = await startEndpoint(() => ({ status: 502, body: `bad gateway for /services/T000/B000/${TOKEN}?x=1` }), `/services/T000/B000/${TOKEN}?x=1`);
    const notifier = webhook({ url: endpoint.url, retries: 1 });

    const error = await rejection(notifier.send(notificationOf(failedReport()), runContext()));

    expect(notifier.description).toBe(`webhook (json) to 127.0.0.1:${endpoint.port}`);
    expect(error.attempts).toBe(2);
    for (const text of [notifier.description, error.message, logLines.join('\n')]) expect(text).not.toContain(TOKEN);
  });
});

describe('webhook header values', () => {
  it('refuses a secret header value with a line break when it is read at send time, naming the header but never the value', async () => {
    const endpoint = await startEndpoint(() => ok);
    const parsed = parseWithEnvironment(webhookNotifySchema, { type: 'webhook', url: endpoint.url, headers: { Authorization: { env: 'FIREDRILL_TEST_LATE_TOKEN' } } }, {}, { resolveSecrets: false });
    if (!parsed.success) throw new Error(JSON.stringify(parsed.error.issues));
    process.env.FIREDRILL_TEST_LATE_TOKEN = 'Bearer canary-late-token\r\nX-Forged: 1';
    try {
      const error = await rejection(new WebhookNotifier(parsed.data).send(notificationOf(failedReport()), runContext()));

      expect(error.attempts).toBe(0);
      expect(error.message).toMatch(/^the value of header Authorization in env FIREDRILL_TEST_LATE_TOKEN is not usable: a header value must be one line/);
      expect(error.message).not.toContain('canary-late-token');
      expect(endpoint.requests).toHaveLength(0);
    } finally {
      delete process.env.FIREDRILL_TEST_LATE_TOKEN;
    }
  });
});
