import { readFile } from 'node:fs/promises';
import { createTransport } from 'nodemailer';
import type { SMTPTransportOptions } from 'nodemailer/lib/smtp-transport';
import { z } from 'zod';
import type { Notification, Notifier, NotifierContext } from './notifier.ts';
import type { NotificationEvent } from '../report/report.ts';
import { secretSchema, timeoutSchema } from '../config/common.ts';
import { formatDuration } from '../config/duration.ts';
import { errorMessage } from '../errors.ts';
import { redactText } from '../redact.ts';
import { NotifyError, deliverWithRetries, scrubbedCause, snippet, type RetryTiming } from './delivery.ts';
import { renderEmailHtml, renderEmailText } from './email-body.ts';
import { expandEvents, notifyOnSchema } from './notify-events.ts';
import { headline, plural, statusWord } from './notification-text.ts';

/**
 * Email through an SMTP server: a subject that says what happened in one
 * line, an HTML summary with a plain-text alternative, and the full HTML
 * report attached. The server is the runner's (`smtp:` in
 * config/firedrill.yaml); each drill's `notify:` only says who gets what.
 */

const emailAddressSchema = z.email({ error: 'expected an email address like oncall@example.com' });

/** `firedrill@example.com` or `firedrill <firedrill@example.com>`. */
const mailboxSchema = z.string().superRefine((text, context) => {
  const named = /^[^<>\r\n]*<([^<>\s]+)>\s*$/.exec(text.trim());
  if (!emailAddressSchema.safeParse(named ? named[1] : text.trim()).success) {
    context.addIssue({ code: 'custom', message: 'expected an email address, or a name and an address: firedrill <firedrill@example.com>' });
  }
});

export const emailNotifySchema = z
  .strictObject({
    type: z.literal('email').describe('Email through the SMTP server configured as smtp: in config/firedrill.yaml.'),
    to: z.array(emailAddressSchema).min(1).describe('Recipients, one address each: [oncall@example.com].'),
    cc: z.array(emailAddressSchema).optional().describe('Recipients in copy. (Default: none)'),
    on: notifyOnSchema,
    subjectPrefix: z
      .string()
      .max(60)
      .regex(/^[^\r\n]*$/, { error: 'must be a single line' })
      .default('[firedrill]')
      .describe('Put before every subject, for mail filters: "[firedrill] FAILED orders: ...". (Default: [firedrill])'),
  })
  .describe('Email the report summary, with the full HTML report attached.');

export type EmailNotifyConfig = z.output<typeof emailNotifySchema>;

/** Why an smtp.url is refused; undefined when it is fine. Never echoes the URL: it may hold a password. */
function smtpUrlProblem(text: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'expected smtp://host[:port] or smtps://host[:port], e.g. smtp://mail.internal:587';
  }
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') return `expected smtp:// or smtps://, got ${url.protocol}//`;
  if (url.password) return 'a password inside smtp.url would sit in the config file in clear text; remove it and use password: { env: SMTP_PASSWORD } (or { file: PATH }) with user';
  if (url.username) return 'put the user name in smtp.user, not in the URL';
  if (!url.hostname) return 'expected a host: smtp://mail.internal:587';
  if ((url.pathname !== '' && url.pathname !== '/') || url.search || url.hash) {
    return 'expected smtp://host[:port] without a path or query (options are keys of smtp:, not URL parameters)';
  }
  return undefined;
}

export const smtpConfigSchema = z
  .strictObject({
    url: z
      .string()
      .superRefine((text, context) => {
        const problem = smtpUrlProblem(text);
        if (problem) context.addIssue({ code: 'custom', message: problem });
      })
      .describe(
        'The SMTP server: smtp://host[:port] (port 587 by default; STARTTLS when the server offers it) or smtps://host[:port] ' +
          '(port 465 by default; TLS from the start). Never with a password in it: use password.',
      ),
    from: mailboxSchema.describe('The sender: an address, or a name and an address ("firedrill <firedrill@example.com>").'),
    user: z.string().min(1).optional().describe('The user to log in as. (Default: no login)'),
    password: secretSchema.optional().describe('The password to log in with, as a secret reference ({ env: SMTP_PASSWORD } or { file: PATH }); goes with user.'),
    tls: z
      .strictObject({
        rejectUnauthorized: z
          .boolean()
          .default(true)
          .describe('Refuse a server certificate that does not verify against the trusted CAs; turn it off only for a test server. (Default: true)'),
        ca: z
          .string()
          .min(1)
          .optional()
          .describe('Path of a PEM file with the CA certificates that signed the server\'s certificate (a private CA); read when an email is sent. (Default: the system\'s trusted CAs)'),
        requireTLS: z
          .boolean()
          .optional()
          .describe(
            'With smtp://, fail unless the server offers STARTTLS, rather than send in clear text; false sends in clear text when the server offers no STARTTLS. ' +
              '(Default: true when user is set: the password never travels in clear text; else false: STARTTLS when the server offers it)',
          ),
        servername: z
          .string()
          .min(1)
          .optional()
          .describe('The name the server\'s certificate must carry, when the URL gives an IP address or an alias. (Default: the URL\'s host)'),
      })
      .prefault({})
      .describe('How the connection to the SMTP server is secured.'),
    timeout: timeoutSchema('How long to wait to connect, for the greeting and for each reply before an attempt fails. (Default: 30s)').prefault('30s'),
  })
  .superRefine((config, context) => {
    if ((config.user === undefined) !== (config.password === undefined)) {
      context.addIssue({ code: 'custom', path: [config.user === undefined ? 'user' : 'password'], message: 'user and password go together: set both to log in, or neither' });
    }
  })
  .describe('The SMTP server that email notifiers send through.');

export type SmtpConfig = z.output<typeof smtpConfigSchema>;

export interface SmtpEndpoint {
  /** For the socket: an IPv6 address without its brackets. */
  host: string;
  port: number;
  /** smtps://: TLS from the first byte. */
  secure: boolean;
  /** `host:port` for messages, as the URL writes the host (`[::1]:2525`). */
  where: string;
}

export function smtpEndpoint(url: string): SmtpEndpoint {
  const parsed = new URL(url);
  const secure = parsed.protocol === 'smtps:';
  const port = parsed.port ? Number(parsed.port) : secure ? 465 : 587;
  return { host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'), port, secure, where: `${parsed.hostname}:${port}` };
}

/** Whether an smtp:// connection must be upgraded with STARTTLS before anything is sent: by default, whenever there is a password to send. */
export function requiresStartTls(smtp: Pick<SmtpConfig, 'user' | 'tls'>): boolean {
  return smtp.tls.requireTLS ?? smtp.user !== undefined;
}

/** `[firedrill] FAILED orders: check "orders exist" failed: returned 0 (RTO 2m10s / 10m)`. */
export function emailSubject(prefix: string, notification: Pick<Notification, 'event' | 'report'>): string {
  const { report } = notification;
  const subject = `${prefix ? `${prefix} ` : ''}${statusWord(notification.event, report.status)} ${report.drill}: ${headline(report)}`;
  // The report arrives redacted. A last line of defence, cheap on plain text: escaped, a secret would no longer be recognized.
  return redactText(subject.replace(/[\r\n]+/g, ' '));
}

export function attachmentName(notification: Pick<Notification, 'report'>): string {
  return `firedrill-${notification.report.drill}-${notification.report.runId}.html`;
}

const MAX_ATTEMPTS = 3;

export class EmailNotifier implements Notifier {
  readonly type = 'email';
  readonly description: string;
  readonly events: ReadonlySet<NotificationEvent>;
  readonly #config: EmailNotifyConfig;
  readonly #smtp: SmtpConfig;
  readonly #endpoint: SmtpEndpoint;
  readonly #timing: RetryTiming;

  constructor(config: EmailNotifyConfig, smtp: SmtpConfig, timing: RetryTiming = {}) {
    this.#config = config;
    this.#smtp = smtp;
    this.#endpoint = smtpEndpoint(smtp.url);
    this.#timing = timing;
    this.description = `email to ${config.to.join(', ')}`;
    this.events = expandEvents(config.on);
  }

  async send(notification: Notification, context: NotifierContext): Promise<{ attempts: number }> {
    const name = attachmentName(notification);
    // The report, and so the bodies and the attachment, arrive redacted. Only the plain text gets a last
    // redactText: on HTML it would come after escaping, where it no longer recognizes a secret.
    const message = {
      from: this.#smtp.from,
      to: this.#config.to,
      ...(this.#config.cc?.length ? { cc: this.#config.cc } : {}),
      subject: emailSubject(this.#config.subjectPrefix, notification),
      text: redactText(renderEmailText(notification, name)),
      html: renderEmailHtml(notification, name),
      attachments: [{ filename: name, content: notification.htmlReport, contentType: 'text/html; charset=utf-8' }],
    };
    const transport = createTransport(await this.#transportOptions());
    try {
      return await deliverWithRetries<SmtpFailure>(
        {
          notifier: this.description,
          target: `email via ${this.#endpoint.where}`,
          maxAttempts: MAX_ATTEMPTS,
          timing: this.#timing,
          attempt: async () => {
            try {
              await transport.sendMail({ ...message, signal: context.signal });
              return undefined;
            } catch (error) {
              return error as SmtpFailure;
            }
          },
          classify: (failure) => (isTransient(failure) ? { retry: true, brief: brief(failure) } : { retry: false }),
          // nodemailer's error carries the server's whole reply: kept only scrubbed.
          fail: (failure, attempts) => new NotifyError(this.#explain(failure, attempts), attempts, { cause: scrubbedCause(failure) }),
        },
        context,
      );
    } finally {
      transport.close();
    }
  }

  async #transportOptions(): Promise<SMTPTransportOptions> {
    const { tls, timeout, user, password } = this.#smtp;
    let ca: string | undefined;
    if (tls.ca) {
      try {
        ca = await readFile(tls.ca, 'utf8');
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
        throw new NotifyError(`cannot read smtp.tls.ca ${tls.ca} (${code}); check the path and that firedrill may read it`, 0, { cause: scrubbedCause(error) });
      }
    }
    let auth: SMTPTransportOptions['auth'];
    if (user !== undefined && password !== undefined) {
      try {
        auth = { user, pass: password.reveal() };
      } catch (error) {
        throw new NotifyError(`the SMTP password is not available: ${errorMessage(error)}`, 0, { cause: scrubbedCause(error) });
      }
    }
    return {
      host: this.#endpoint.host,
      port: this.#endpoint.port,
      secure: this.#endpoint.secure,
      // nodemailer sends AUTH in clear text over smtp:// when the server offers no STARTTLS, unless told to require it.
      requireTLS: !this.#endpoint.secure && requiresStartTls(this.#smtp),
      ...(tls.servername ? { servername: tls.servername } : {}),
      tls: { rejectUnauthorized: tls.rejectUnauthorized, ...(ca ? { ca } : {}) },
      ...(auth ? { auth } : {}),
      connectionTimeout: timeout,
      greetingTimeout: timeout,
      socketTimeout: timeout,
      // The message is built from strings only: nothing may be read from a path or fetched from a URL.
      disableFileAccess: true,
      disableUrlAccess: true,
      logger: false,
    };
  }

  /** What went wrong, where, and what to do, in one message; never the password, and the server's words scrubbed. */
  #explain(failure: SmtpFailure, attempts: number): string {
    const where = this.#endpoint.where;
    const reply = failure.response ? ` (${snippet(failure.response)})` : '';
    const tries = attempts > 1 ? ` after ${plural(attempts, 'attempt')}` : '';
    const code = failure.responseCode;
    if (failure.code === 'ETLS' && failure.command === 'STARTTLS' && code !== undefined && code >= 500 && requiresStartTls(this.#smtp)) {
      const refusal = this.#smtp.user !== undefined ? 'firedrill will not send the SMTP password in clear text' : 'smtp.tls.requireTLS forbids sending in clear text';
      return `the SMTP server at ${where} offers no STARTTLS${reply} and ${refusal}; use smtps://, enable STARTTLS on the server, or set smtp.tls.requireTLS: false on a trusted network`;
    }
    if (code !== undefined && code >= 400 && code < 500) {
      // 4xx is "try again later", and every attempt got it: the notification is lost, not postponed.
      const what = failure.command?.startsWith('AUTH')
        ? `kept answering the login with a temporary error${reply}${tries}; the notification was not sent; check the server's logs: its login backend may be failing`
        : failure.command === 'STARTTLS'
          ? `kept answering STARTTLS with a temporary error${reply}${tries}; the notification was not sent; check the server's logs and its TLS setup`
          : `deferred the message${reply}${tries}; the notification was not sent; the server may be busy or greylisting this sender: check its logs`;
      return `the SMTP server ${where} ${what}`;
    }
    if (failure.code === 'EAUTH' || failure.command?.startsWith('AUTH')) {
      const secret = this.#smtp.password ? `the password in ${this.#smtp.password.origin}` : 'smtp.password';
      return `the SMTP server ${where} refused the login of user "${this.#smtp.user ?? ''}"${reply}; check smtp.user and ${secret}`;
    }
    if (code === 530) {
      // 530 is "not before something else": a login, or STARTTLS ("Must issue a STARTTLS command first"); the reply says which.
      const text = failure.response ?? '';
      let hint = 'check the server\'s configuration against its reply';
      if (/TLS/i.test(text)) hint = 'it wants TLS first: use smtps://, or check that the server offers STARTTLS';
      else if (/auth|login|credential/i.test(text)) hint = this.#smtp.user ? 'it wants a login first: check that the server offers AUTH on this connection' : 'it wants a login: set smtp.user and smtp.password';
      return `the SMTP server ${where} refused to go on${reply}; the notification was not sent; ${hint}`;
    }
    if (isTlsFailure(failure)) {
      return (
        `TLS with the SMTP server ${where} failed (${snippet(failure.message)}); check smtp.tls.ca (the CA that signed the server's certificate) and smtp.tls.servername, ` +
        'and the URL\'s scheme: smtps:// for TLS from the start, smtp:// for STARTTLS'
      );
    }
    if (code !== undefined && code >= 500) {
      const hint = failure.code === 'EENVELOPE' ? '; check smtp.from and the notifier\'s to and cc addresses, and that the server relays mail for this sender' : '';
      return `the SMTP server ${where} refused the message${reply}${hint}`;
    }
    if (failure.code === 'ETIMEDOUT') {
      return `the SMTP server ${where} did not answer within ${formatDuration(this.#smtp.timeout)}${tries}; check smtp.url and that the server accepts connections from this host, or raise smtp.timeout`;
    }
    if (failure.code === 'ESOCKET' || failure.code === 'ECONNECTION' || failure.code === 'EDNS') {
      const systemCode = failure.originalCode ?? failure.code;
      const detail = snippet(failure.message.includes(systemCode) ? failure.message : `${systemCode}: ${failure.message}`);
      return `could not reach the SMTP server ${where} (${detail})${tries}; check smtp.url and that the server accepts connections from this host`;
    }
    return `sending through the SMTP server ${where} failed${tries}: ${snippet(errorMessage(failure))}`;
  }
}

/** The fields nodemailer puts on its errors. */
interface SmtpFailure extends Error {
  code?: string;
  originalCode?: string;
  responseCode?: number;
  response?: string;
  command?: string;
}

/** Worth another attempt: the connection failed, or the server answered 4xx (try again later). A 5xx is final. */
function isTransient(failure: SmtpFailure): boolean {
  if (failure.responseCode !== undefined) return failure.responseCode >= 400 && failure.responseCode < 500;
  if (isTlsFailure(failure)) return false;
  return failure.code === 'ECONNECTION' || failure.code === 'ESOCKET' || failure.code === 'ETIMEDOUT' || failure.code === 'EDNS';
}

/** A certificate that does not verify, or a TLS handshake that failed: another attempt would fail the same way. */
function isTlsFailure(failure: SmtpFailure): boolean {
  if (failure.code === 'ETLS') return true;
  const code = failure.originalCode ?? '';
  return /CERT|SELF_SIGNED|ERR_TLS|ERR_SSL|UNABLE_TO_(GET|VERIFY)/.test(code) || /certificate|handshake|wrong version number/i.test(failure.message);
}

/** How an attempt failed, in a few words, for the log line before the next one. */
function brief(failure: SmtpFailure): string {
  return snippet(failure.response ?? `${failure.originalCode ?? failure.code ?? 'error'}: ${failure.message}`);
}
