import { createHmac } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SMTPServer } from 'smtp-server';
import { simpleParser, type ParsedMail } from 'mailparser';
import { useSourceDatabase } from '../support/lifecycle.ts';
import { drillFile } from '../support/source-database.ts';
import { listFiles } from '../support/workspace.ts';
import type { Report } from '../../src/report/report.ts';

/**
 * Notifications from real drill runs: email through a real SMTP server that
 * requires a login, webhooks to a local HTTP server (firedrill's JSON,
 * signed; Slack's format at a URL given as a secret; one endpoint that always
 * fails). A failed run emails and posts, the next passing run is a
 * recovery, the one after that a plain success; the failing endpoint is
 * recorded in the report and never changes the drill's status or exit code.
 * The SMTP password, the signing key and the Slack token are canaries.
 */

const context = useSourceDatabase();

const SMTP_PASSWORD = 'canary-smtp-e2e-5b8c1d';
const SIGNING_KEY = 'canary-signing-key-0f3a9e';
const SLACK_TOKEN = 'canaryslacktoken7c21d4';

interface Received {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

let smtp: SMTPServer;
let smtpPort: number;
let mails: ParsedMail[];
let rawMails: string[];
let hooks: Server;
let hooksUrl: string;
let received: Received[];

beforeEach(async () => {
  mails = [];
  rawMails = [];
  smtp = new SMTPServer({
    logger: false,
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    onAuth(auth, _session, callback) {
      if (auth.username === 'alerts' && auth.password === SMTP_PASSWORD) callback(null, { user: 'alerts' });
      else callback(new Error('Invalid username or password'));
    },
    onData(stream, _session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks);
        rawMails.push(raw.toString('utf8'));
        void simpleParser(raw).then((mail) => mails.push(mail));
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  smtpPort = (smtp.server.address() as AddressInfo).port;

  received = [];
  hooks = createServer((request, response) => {
    let body = '';
    request.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
    request.on('end', () => {
      received.push({ path: request.url ?? '', headers: request.headers, body });
      response.writeHead(request.url === '/broken' ? 500 : 200).end();
    });
  });
  await new Promise<void>((resolve) => hooks.listen(0, '127.0.0.1', resolve));
  hooksUrl = `http://127.0.0.1:${(hooks.address() as AddressInfo).port}`;
});
afterEach(async () => {
  await new Promise<void>((resolve) => smtp.close(() => resolve()));
  await new Promise<void>((resolve) => hooks.close(() => resolve()));
});

const FAILING_CHECK = '  - { name: impossible, type: sql, query: "select count(*) from orders", expect: { equals: -1 } }';

function notifyList(): string {
  return [
    'notify:',
    '  - { type: email, to: [oncall@example.com], cc: [dba@example.com] }',
    `  - { type: webhook, url: "${hooksUrl}/firedrill", secret: { env: HOOK_KEY }, on: [always] }`,
    '  - { type: webhook, url: { env: SLACK_URL }, format: slack }',
    `  - { type: webhook, url: "${hooksUrl}/broken", retries: 1, on: [failure] }`,
  ].join('\n');
}

const hooksTo = (path: string) => received.filter((request) => request.path === path);

describe('notifications from drill runs', () => {
  it('emails and posts a failure, then a recovery, then only what asked for successes; a failing endpoint changes nothing', async () => {
    const { workspace } = context;
    await workspace.writeFile(
      'config/firedrill.yaml',
      `smtp: { url: "smtp://127.0.0.1:${smtpPort}", from: "firedrill <firedrill@example.com>", user: alerts, password: { env: SMTP_PASSWORD }, timeout: 10s, tls: { requireTLS: false } }\n`,
    );
    const env = { SMTP_PASSWORD, HOOK_KEY: SIGNING_KEY, SLACK_URL: `${hooksUrl}/services/T000/B000/${SLACK_TOKEN}` };
    await workspace.writeFile('drills/orders.yaml', drillFile({ checks: FAILING_CHECK, extra: notifyList() }));

    const failed = await workspace.run(['run', 'orders', '--json'], env);
    expect(failed.code, failed.stderr).toBe(1);
    const failedReport = JSON.parse(failed.stdout) as Report;
    expect(failedReport.status).toBe('failed');
    expect(failedReport.notifications).toEqual([
      { notifier: 'email to oncall@example.com', type: 'email', event: 'failure', status: 'sent', attempts: 1 },
      { notifier: expect.stringMatching(/^webhook \(json\) to 127\.0\.0\.1:\d+$/) as string, type: 'webhook', event: 'failure', status: 'sent', attempts: 1 },
      { notifier: 'webhook (slack) from env SLACK_URL', type: 'webhook', event: 'failure', status: 'sent', attempts: 1 },
      {
        notifier: expect.stringMatching(/^webhook \(json\) to 127\.0\.0\.1:\d+$/) as string,
        type: 'webhook',
        event: 'failure',
        status: 'failed',
        attempts: 2,
        message: expect.stringContaining('HTTP 500') as string,
      },
    ]);

    await expect.poll(() => mails.length).toBe(1);
    const mail = mails[0] as ParsedMail;
    expect(mail.subject).toMatch(/^\[firedrill\] FAILED orders: check "impossible" failed: .+$/);
    expect(mail.to).toMatchObject({ text: 'oncall@example.com' });
    expect(mail.cc).toMatchObject({ text: 'dba@example.com' });
    expect(mail.text).toContain(failedReport.runId);
    expect(mail.html).toContain('impossible');
    const [attachment] = mail.attachments;
    expect(attachment).toMatchObject({ filename: `firedrill-orders-${failedReport.runId}.html`, contentType: 'text/html' });
    const attached = attachment?.content.toString('utf8') ?? '';
    expect(attached).toContain('data-status="failed"');
    expect(attached).not.toMatch(/<script|https?:\/\//i);

    const [signed] = hooksTo('/firedrill');
    const payload = JSON.parse(signed?.body ?? '{}') as { schemaVersion: number; event: string; drill: string; runId: string; status: string; failedChecks: { name: string }[] };
    expect(payload).toMatchObject({ schemaVersion: 1, event: 'failure', drill: 'orders', runId: failedReport.runId, status: 'failed', failedChecks: [{ name: 'impossible' }] });
    const timestamp = String(signed?.headers['x-firedrill-timestamp']);
    const expected = `sha256=${createHmac('sha256', SIGNING_KEY).update(`${timestamp}.${signed?.body}`).digest('hex')}`;
    expect(signed?.headers['x-firedrill-signature']).toBe(expected);
    const slack = JSON.parse(hooksTo(`/services/T000/B000/${SLACK_TOKEN}`)[0]?.body ?? '{}') as { text: string; blocks: { type: string }[] };
    expect(slack.text).toContain('FAILED orders');
    expect(slack.blocks[0]?.type).toBe('header');
    expect(hooksTo('/broken')).toHaveLength(2);

    // The terminal says what each notifier did.
    const shown = await workspace.run(['run', 'orders', '--from-backup', 'latest'], env);
    expect(shown.code).toBe(1);
    expect(shown.stdout).toMatch(/NOTIFIED\s+EVENT\s+STATUS\s+MESSAGE/);
    expect(shown.stdout).toMatch(/webhook \(json\) to 127\.0\.0\.1:\d+\s+failure\s+failed\s+.*HTTP 500/);
    await expect.poll(() => mails.length).toBe(2);

    // Fixed: the next run is a recovery, told to everyone who asked for recoveries (the defaults) or everything.
    await workspace.writeFile('drills/orders.yaml', drillFile({ extra: notifyList() }));
    const recovered = JSON.parse((await workspace.run(['run', 'orders', '--from-backup', 'latest', '--json'], env)).stdout) as Report;
    expect(recovered.status).toBe('passed');
    expect(recovered.notifications?.map((sent) => [sent.type, sent.event, sent.status])).toEqual([
      ['email', 'recovery', 'sent'],
      ['webhook', 'recovery', 'sent'],
      ['webhook', 'recovery', 'sent'],
    ]);
    await expect.poll(() => mails.length).toBe(3);
    expect(mails[2]?.subject).toMatch(/^\[firedrill\] RECOVERED orders: 3 checks passed \(RTO \S+ \/ 10m\)$/);

    // Passing again is only a success: the email and Slack (failure and recovery) stay quiet, the always-hook is told.
    const before = received.length;
    const passed = JSON.parse((await workspace.run(['run', 'orders', '--from-backup', 'latest', '--json'], env)).stdout) as Report;
    expect(passed.notifications?.map((sent) => [sent.notifier.split(' ')[0], sent.event])).toEqual([['webhook', 'success']]);
    expect(received.slice(before).map((request) => request.path)).toEqual(['/firedrill']);
    expect(mails).toHaveLength(3);

    // No canary anywhere: outputs, reports kept locally and in the repository, mails, webhook bodies and headers.
    const everything = [
      failed.stdout,
      failed.stderr,
      shown.stdout,
      shown.stderr,
      ...rawMails,
      ...received.map((request) => `${request.body} ${JSON.stringify(request.headers)}`),
      ...(await Promise.all((await listFiles(`${workspace.directory}/var`)).map((file) => readFile(file, 'latin1')))),
    ].join('\n');
    for (const canary of [SMTP_PASSWORD, SIGNING_KEY, SLACK_TOKEN]) expect(everything).not.toContain(canary);
  });

  it('refuses, before anything runs, an email notifier without smtp settings', async () => {
    const { workspace } = context;
    await workspace.writeFile('drills/orders.yaml', drillFile({ extra: 'notify:\n  - { type: email, to: [oncall@example.com] }' }));

    const result = await workspace.run(['validate']);

    expect(result.code).toBe(2);
    expect(result.stderr).toContain('notify[0]: sends email, and there is no runner config with smtp settings; create config/firedrill.yaml with smtp: { url, from }');
  });
});
