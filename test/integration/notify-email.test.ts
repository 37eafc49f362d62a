import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { simpleParser, type ParsedMail } from 'mailparser';
import { EmailNotifier, emailNotifySchema, smtpConfigSchema, type SmtpConfig } from '../../src/notify/email-notifier.ts';
import type { NotifierContext } from '../../src/notify/notifier.ts';
import { NotifyError } from '../../src/notify/delivery.ts';
import { parseWithEnvironment } from '../../src/config/common.ts';
import { createLogger } from '../../src/logger.ts';
import { Secret } from '../../src/secret.ts';
import { HTML_REPORT, RUN_ID, errorReport, failedReport, notificationOf, passedReport } from '../unit/notify/sample-report.ts';

/**
 * Email notifications against a real SMTP server (smtp-server) that requires
 * a login; every message it accepts is parsed back with mailparser. The SMTP
 * password is a canary: it must appear in no message, error or log line.
 */

const USER = 'firedrill-alerts';
const CANARY_PASSWORD = 'canary-smtp-password-4e1f9c';
const WRONG_PASSWORD = 'canary-wrong-password-77d2aa';
/** Tiny backoff: the retries are real, the waiting is not the point. */
const TIMING = { baseDelayMs: 5 };
/** The test server offers no STARTTLS: logging in to it over smtp:// in clear text has to be allowed explicitly. */
const CLEAR_TEXT_LOGIN = { tls: { requireTLS: false } };

interface SmtpPeer {
  port: number;
  messages: Buffer[];
  close(): Promise<void>;
}

async function startSmtpServer(options: Partial<SMTPServerOptions> = {}): Promise<SmtpPeer> {
  const messages: Buffer[] = [];
  const server = new SMTPServer({
    logger: false,
    authMethods: ['PLAIN', 'LOGIN'],
    // No certificate here: no STARTTLS, and a login over the plain connection.
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    onAuth(auth, _session, callback) {
      if (auth.username === USER && auth.password === CANARY_PASSWORD) callback(null, { user: USER });
      else callback(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
    },
    onData(stream, _session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        messages.push(Buffer.concat(chunks));
        callback();
      });
    },
    ...options,
  });
  // A client that refuses the server's certificate makes the server emit an error: expected in the TLS tests.
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  return { port, messages, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

function smtpSettings(port: number, password: string, extra: Record<string, unknown> = {}, scheme = 'smtp'): SmtpConfig {
  const parsed = parseWithEnvironment(
    smtpConfigSchema,
    { url: `${scheme}://127.0.0.1:${port}`, from: 'firedrill <firedrill@example.com>', user: USER, password: { env: 'FIREDRILL_TEST_SMTP_PASSWORD' }, timeout: '5s', ...extra },
    { FIREDRILL_TEST_SMTP_PASSWORD: password },
    { resolveSecrets: true },
  );
  if (!parsed.success) throw new Error(JSON.stringify(parsed.error.issues));
  return parsed.data;
}

const notifyConfig = emailNotifySchema.parse({ type: 'email', to: ['oncall@example.com', 'dba@example.com'], cc: ['lead@example.com'] });

let logLines: string[] = [];
function runContext(signal = new AbortController().signal): NotifierContext {
  return { logger: createLogger({ destination: { write: (line) => logLines.push(line) } }), signal };
}

/** A port nothing listens on: one the system gave out and took back. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
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

describe('email notifications through a real SMTP server', () => {
  let peer: SmtpPeer;

  beforeAll(async () => {
    peer = await startSmtpServer();
  });
  afterAll(async () => {
    await peer.close();
  });
  afterEach(() => {
    expect(logLines.join('\n')).not.toContain(CANARY_PASSWORD);
    expect(logLines.join('\n')).not.toContain(WRONG_PASSWORD);
    logLines = [];
  });

  it('sends a failed run: subject, addresses, HTML and text bodies, and the full report attached', async () => {
    peer.messages.length = 0;
    const notifier = new EmailNotifier(notifyConfig, smtpSettings(peer.port, CANARY_PASSWORD, CLEAR_TEXT_LOGIN), TIMING);

    const result = await notifier.send(notificationOf(failedReport()), runContext());

    expect(result).toEqual({ attempts: 1 });
    expect(peer.messages).toHaveLength(1);
    const raw = peer.messages[0]!;
    expect(raw.toString('utf8')).not.toContain(CANARY_PASSWORD);
    expect(raw.toString('utf8')).not.toContain(Buffer.from(CANARY_PASSWORD).toString('base64'));
    const mail: ParsedMail = await simpleParser(raw);
    expect(mail.subject).toBe('[firedrill] FAILED orders: check "orders exist" failed: returned 0, expected at least 1 (RTO 2m10s / 10m)');
    expect(mail.from?.value).toEqual([{ address: 'firedrill@example.com', name: 'firedrill' }]);
    const addresses = (field: ParsedMail['to']) => (Array.isArray(field) ? field : field ? [field] : []).flatMap((entry) => entry.value.map((value) => value.address));
    expect(addresses(mail.to)).toEqual(['oncall@example.com', 'dba@example.com']);
    expect(addresses(mail.cc)).toEqual(['lead@example.com']);
    expect(mail.html).toContain('failed: check &#34;orders exist&#34; failed: returned 0, expected at least 1');
    expect(mail.html).toContain('orders exist');
    expect(mail.html).toContain('returned 0, expected at least 1');
    expect(mail.text).toContain('Failed checks:\n  - orders exist (sql): returned 0, expected at least 1');
    expect(mail.text).toMatch(new RegExp(`^Run: +${RUN_ID}$`, 'm'));
    expect(mail.attachments).toHaveLength(1);
    const [attachment] = mail.attachments;
    expect(attachment?.filename).toBe(`firedrill-orders-${RUN_ID}.html`);
    expect(attachment?.contentType).toBe('text/html');
    expect(attachment?.content.toString('utf8')).toBe(HTML_REPORT);
  });

  it('says RECOVERED in the subject of a recovery', async () => {
    peer.messages.length = 0;
    const notifier = new EmailNotifier(notifyConfig, smtpSettings(peer.port, CANARY_PASSWORD, CLEAR_TEXT_LOGIN), TIMING);

    await notifier.send(notificationOf(passedReport(), 'recovery'), runContext());

    const mail = await simpleParser(peer.messages[0]!);
    expect(mail.subject).toBe('[firedrill] RECOVERED orders: 2 checks passed (RTO 12s / 10m)');
    expect(mail.text).toMatch(/^Previous run: +failed$/m);
  });

  it('fails on a wrong password at once, naming the server and what to check, never the password', async () => {
    peer.messages.length = 0;
    const notifier = new EmailNotifier(notifyConfig, smtpSettings(peer.port, WRONG_PASSWORD, CLEAR_TEXT_LOGIN), TIMING);

    const error = await rejection(notifier.send(notificationOf(errorReport()), runContext()));

    expect(error.attempts).toBe(1);
    expect(error.message).toBe(
      `the SMTP server 127.0.0.1:${peer.port} refused the login of user "${USER}" (535 Invalid username or password); ` +
        'check smtp.user and the password in env FIREDRILL_TEST_SMTP_PASSWORD',
    );
    expect(JSON.stringify(error, Object.getOwnPropertyNames(error))).not.toContain(WRONG_PASSWORD);
    expect(String(error.stack)).not.toContain(WRONG_PASSWORD);
    expect(peer.messages).toHaveLength(0);
  });

  it('tries three times when the server is down, then says where it tried and what to check', async () => {
    const port = await closedPort();
    const notifier = new EmailNotifier(notifyConfig, smtpSettings(port, CANARY_PASSWORD), TIMING);

    const error = await rejection(notifier.send(notificationOf(failedReport()), runContext()));

    expect(error.attempts).toBe(3);
    expect(error.message).toMatch(new RegExp(`^could not reach the SMTP server 127\\.0\\.0\\.1:${port} \\(connect ECONNREFUSED .*\\) after 3 attempts; check smtp\\.url and that the server accepts connections from this host$`));
    expect(error.message).not.toContain(CANARY_PASSWORD);
    expect(logLines.filter((line) => line.includes('retrying in'))).toHaveLength(2);
  });

  it('stops retrying when the process is stopping', async () => {
    const port = await closedPort();
    const notifier = new EmailNotifier(notifyConfig, smtpSettings(port, CANARY_PASSWORD), { baseDelayMs: 60_000 });
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(), 200);

    const error = await rejection(notifier.send(notificationOf(failedReport()), runContext(controller.signal)));

    expect(error.message).toBe('stopped after 1 attempt: firedrill is stopping; the notification was not sent');
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe('an SMTP server that defers or refuses the message', () => {
  it('tries again after a 4xx (try later) and delivers', async () => {
    let mailFroms = 0;
    const peer = await startSmtpServer({
      onMailFrom(_address, _session, callback) {
        mailFroms++;
        if (mailFroms === 1) callback(Object.assign(new Error('Greylisted, try again later'), { responseCode: 451 }));
        else callback();
      },
    });
    try {
      const notifier = new EmailNotifier(notifyConfig, smtpSettings(peer.port, CANARY_PASSWORD, CLEAR_TEXT_LOGIN), TIMING);

      expect(await notifier.send(notificationOf(failedReport()), runContext())).toEqual({ attempts: 2 });
      expect(peer.messages).toHaveLength(1);
    } finally {
      await peer.close();
    }
  });

  it('does not try again after a 5xx (permanent) rejection, and says what to check', async () => {
    const peer = await startSmtpServer({
      onRcptTo(_address, _session, callback) {
        callback(Object.assign(new Error('Relaying denied'), { responseCode: 550 }));
      },
    });
    try {
      const notifier = new EmailNotifier(notifyConfig, smtpSettings(peer.port, CANARY_PASSWORD, CLEAR_TEXT_LOGIN), TIMING);

      const error = await rejection(notifier.send(notificationOf(failedReport()), runContext()));

      expect(error.attempts).toBe(1);
      expect(error.message).toMatch(new RegExp(`^the SMTP server 127\\.0\\.0\\.1:${peer.port} refused the message \\(550 .*\\); check smtp\\.from and the notifier's to and cc addresses`));
    } finally {
      await peer.close();
    }
  });

  it('says the server kept deferring when every attempt got a 4xx, and that the notification was not sent', async () => {
    const peer = await startSmtpServer({
      onMailFrom(_address, _session, callback) {
        callback(Object.assign(new Error('Greylisted, try again later'), { responseCode: 451 }));
      },
    });
    try {
      const notifier = new EmailNotifier(notifyConfig, smtpSettings(peer.port, CANARY_PASSWORD, CLEAR_TEXT_LOGIN), TIMING);

      const error = await rejection(notifier.send(notificationOf(failedReport()), runContext()));

      expect(error.attempts).toBe(3);
      expect(error.message).toMatch(
        new RegExp(`^the SMTP server 127\\.0\\.0\\.1:${peer.port} deferred the message \\(451 .*Greylisted.*\\) after 3 attempts; the notification was not sent; .*check its logs$`),
      );
    } finally {
      await peer.close();
    }
  });

  it('says the server kept answering the login with a temporary error, not that it refused the user', async () => {
    const peer = await startSmtpServer({
      onAuth(_auth, _session, callback) {
        callback(Object.assign(new Error('Temporary authentication failure'), { responseCode: 454 }));
      },
    });
    try {
      const notifier = new EmailNotifier(notifyConfig, smtpSettings(peer.port, CANARY_PASSWORD, CLEAR_TEXT_LOGIN), TIMING);

      const error = await rejection(notifier.send(notificationOf(failedReport()), runContext()));

      expect(error.attempts).toBe(3);
      expect(error.message).toMatch(new RegExp(`^the SMTP server 127\\.0\\.0\\.1:${peer.port} kept answering the login with a temporary error \\(454 .*\\) after 3 attempts; the notification was not sent`));
      expect(error.message).not.toContain('refused the login');
    } finally {
      await peer.close();
    }
  });

  it('words a 530 by what the server says it wants, here STARTTLS rather than a login', async () => {
    const peer = await startSmtpServer({
      onMailFrom(_address, _session, callback) {
        callback(Object.assign(new Error('Must issue a STARTTLS command first'), { responseCode: 530 }));
      },
    });
    try {
      const notifier = new EmailNotifier(notifyConfig, smtpSettings(peer.port, CANARY_PASSWORD, CLEAR_TEXT_LOGIN), TIMING);

      const error = await rejection(notifier.send(notificationOf(failedReport()), runContext()));

      expect(error.attempts).toBe(1);
      expect(error.message).toMatch(/refused to go on \(530 .*Must issue a STARTTLS command first\); the notification was not sent; it wants TLS first: use smtps:\/\//);
      expect(error.message).not.toContain('requires a login');
    } finally {
      await peer.close();
    }
  });

  it('scrubs a secret the server echoes before cutting its reply short, in the message and in the cause', async () => {
    const echoed = 'canary-echoed-token-1f0d5c7a';
    Secret.fromValue(echoed, 'test');
    const peer = await startSmtpServer({
      onRcptTo(_address, _session, callback) {
        // "550 ", then the token across character 200, where the reply is cut for the message.
        callback(Object.assign(new Error(`${'x'.repeat(175)} ${echoed} rejected`), { responseCode: 550 }));
      },
    });
    try {
      const notifier = new EmailNotifier(notifyConfig, smtpSettings(peer.port, CANARY_PASSWORD, CLEAR_TEXT_LOGIN), TIMING);

      const error = await rejection(notifier.send(notificationOf(failedReport()), runContext()));

      const cause = error.cause as Error;
      for (const text of [error.message, cause.message, String(cause.stack), JSON.stringify(cause, Object.getOwnPropertyNames(cause))]) {
        expect(text).not.toContain(echoed.slice(0, 10));
      }
      expect(error.message).toContain(`${'x'.repeat(175)} [redacted] rejected)`);
    } finally {
      await peer.close();
    }
  });
});

describe('a login over smtp:// to a server that offers no STARTTLS', () => {
  it('is refused before the password is sent, unless tls.requireTLS is false', async () => {
    let logins = 0;
    const peer = await startSmtpServer({
      onAuth(_auth, _session, callback) {
        logins++;
        callback(null, { user: USER });
      },
    });
    try {
      const notifier = new EmailNotifier(notifyConfig, smtpSettings(peer.port, CANARY_PASSWORD), TIMING);

      const error = await rejection(notifier.send(notificationOf(failedReport()), runContext()));

      expect(error.attempts).toBe(1);
      expect(error.message).toMatch(
        new RegExp(
          `^the SMTP server at 127\\.0\\.0\\.1:${peer.port} offers no STARTTLS \\(.*\\) and firedrill will not send the SMTP password in clear text; ` +
            'use smtps://, enable STARTTLS on the server, or set smtp\\.tls\\.requireTLS: false on a trusted network$',
        ),
      );
      expect(logins).toBe(0);
      expect(peer.messages).toHaveLength(0);
    } finally {
      await peer.close();
    }
  });
});

describe('email over TLS (smtps://) with a private CA', () => {
  let directory: string;
  let peer: SmtpPeer;

  beforeAll(async () => {
    directory = mkdtempSync(join(tmpdir(), 'firedrill-smtp-tls-'));
    // A self-signed certificate for 127.0.0.1, made now: it doubles as its own CA.
    const made = spawnSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(directory, 'key.pem'), '-out', join(directory, 'cert.pem'), '-days', '1',
        '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'],
      { encoding: 'utf8' },
    );
    if (made.status !== 0) throw new Error(`openssl req failed: ${made.stderr}`);
    peer = await startSmtpServer({ secure: true, disabledCommands: [], key: readFileSync(join(directory, 'key.pem')), cert: readFileSync(join(directory, 'cert.pem')) });
  });
  afterAll(async () => {
    await peer?.close();
    rmSync(directory, { recursive: true, force: true });
  });

  it('delivers when tls.ca names the CA that signed the server\'s certificate', async () => {
    const notifier = new EmailNotifier(notifyConfig, smtpSettings(peer.port, CANARY_PASSWORD, { tls: { ca: join(directory, 'cert.pem') } }, 'smtps'), TIMING);

    expect(await notifier.send(notificationOf(failedReport()), runContext())).toEqual({ attempts: 1 });
    expect(peer.messages).toHaveLength(1);
  });

  it('refuses a certificate it cannot verify, at once, pointing to tls.ca', async () => {
    const notifier = new EmailNotifier(notifyConfig, smtpSettings(peer.port, CANARY_PASSWORD, {}, 'smtps'), TIMING);

    const error = await rejection(notifier.send(notificationOf(failedReport()), runContext()));

    expect(error.attempts).toBe(1);
    expect(error.message).toMatch(new RegExp(`^TLS with the SMTP server 127\\.0\\.0\\.1:${peer.port} failed \\(.*certificate.*\\); check smtp\\.tls\\.ca`));
  });

  it('says so when the tls.ca file cannot be read', async () => {
    const notifier = new EmailNotifier(notifyConfig, smtpSettings(peer.port, CANARY_PASSWORD, { tls: { ca: join(directory, 'missing.pem') } }, 'smtps'), TIMING);

    const error = await rejection(notifier.send(notificationOf(failedReport()), runContext()));

    expect(error.message).toBe(`cannot read smtp.tls.ca ${join(directory, 'missing.pem')} (ENOENT); check the path and that firedrill may read it`);
  });
});
