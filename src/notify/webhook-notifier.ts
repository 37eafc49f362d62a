import { createHmac } from 'node:crypto';
import { z } from 'zod';
import type { Notification, Notifier, NotifierContext } from './notifier.ts';
import type { NotificationEvent } from '../report/report.ts';
import { secretSchema, timeoutSchema } from '../config/common.ts';
import { formatDuration } from '../config/duration.ts';
import { errorMessage } from '../errors.ts';
import { redactText } from '../redact.ts';
import { Secret } from '../secret.ts';
import { FIREDRILL_VERSION } from '../version.ts';
import { NotifyError, deliverWithRetries, maxDelay, scrubbedCause, snippet, type RetryTiming, type Verdict } from './delivery.ts';
import { plural } from './notification-text.ts';
import { expandEvents, notifyOnSchema } from './notify-events.ts';
import { buildSlackPayload, buildWebhookPayload } from './webhook-payload.ts';

/**
 * An HTTP POST of the run's outcome: firedrill's own JSON payload, or a Slack
 * message. The URL of a Slack incoming webhook (or any endpoint whose path
 * carries a token) is a secret, so it may be given as a secret reference;
 * either way, descriptions and error messages name only the host.
 *
 * With `secret`, each request is signed: `X-Firedrill-Signature` is
 * `sha256=` and the hex HMAC-SHA256, keyed with the secret, of
 * `<X-Firedrill-Timestamp>.<raw body>`. The timestamp (unix seconds) is
 * signed with the body so that a receiver can refuse requests older than a
 * few minutes: a captured request then cannot be replayed later.
 *
 * Every attempt at one notification carries the same `X-Firedrill-Delivery`
 * (the run id), so that a receiver can drop a retry of a request it did get
 * when firedrill did not see its answer.
 */

/** Headers firedrill sets itself: a custom one would conflict. */
const RESERVED_HEADERS = new Set(['content-type', 'content-length', 'host', 'user-agent', 'x-firedrill-timestamp', 'x-firedrill-signature', 'x-firedrill-delivery']);
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** One line of visible Latin-1 characters, spaces and tabs: a CR or LF would let a value forge headers, and fetch refuses the rest. */
const HEADER_VALUE = /^[\t\x20-\x7e\xa0-\xff]*$/;
const HEADER_VALUE_PROBLEM = 'a header value must be one line of visible Latin-1 characters, spaces or tabs (no CR, LF or other control character)';
/** How much of a refusing endpoint's answer is read for the message. */
const ANSWER_READ_BYTES = 8192;
/**
 * Network errors worth another attempt (the codes on fetch's `cause`): refused, reset, timed out or unroutable
 * for now. Anything else (a certificate that does not verify, a name that does not exist, a request fetch
 * refuses to make) fails the same way every time.
 */
const RETRYABLE_NETWORK_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'EHOSTDOWN', 'ENETUNREACH', 'ENETDOWN', 'EAI_AGAIN',
  'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT',
]);

/** Why a text is not a usable webhook URL; never echoes it (its path may carry a token). */
function httpUrlProblem(text: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'expected an http:// or https:// URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `expected an http:// or https:// URL, got ${url.protocol}//`;
  return undefined;
}

/** A union's error: the problem of the branch that had one of its own (an unset variable), else `fallback`. */
function unionError(fallback: string) {
  return (issue: z.core.$ZodRawIssue): string => {
    const nested = issue.code === 'invalid_union' ? issue.errors.flat().find((inner) => inner.code === 'custom') : undefined;
    return nested?.message ?? fallback;
  };
}

const plainUrlSchema = z.string().superRefine((text, context) => {
  const problem = httpUrlProblem(text);
  if (problem) context.addIssue({ code: 'custom', message: problem });
  else if (new URL(text).username || new URL(text).password) {
    context.addIssue({ code: 'custom', message: 'credentials inside the URL would sit in the config file in clear text; give the whole URL as a secret: url: { env: NAME }' });
  }
});

export const webhookNotifySchema = z
  .strictObject({
    type: z.literal('webhook').describe('An HTTP POST to a URL: firedrill\'s JSON payload, or a Slack message.'),
    url: z
      .union([plainUrlSchema, secretSchema], { error: unionError('expected an http(s) URL, or a secret reference that holds one: { env: NAME } or { file: PATH }') })
      .describe(
        'Where to POST: an http(s) URL, or, when the URL itself is a secret (a Slack incoming webhook carries its token in the path), ' +
          'a secret reference that holds it: { env: SLACK_WEBHOOK_URL }. Reports and logs name only its host.',
      ),
    format: z
      .enum(['json', 'slack'])
      .default('json')
      .describe('json: firedrill\'s versioned payload (schemaVersion 1); slack: a Slack Block Kit message for an incoming webhook. (Default: json)'),
    secret: secretSchema
      .optional()
      .describe('A key to sign every request with, as a secret reference: X-Firedrill-Signature is sha256=<hex HMAC-SHA256 of "<X-Firedrill-Timestamp>.<body>">. (Default: unsigned)'),
    on: notifyOnSchema,
    headers: z
      .record(
        z.string().regex(HEADER_NAME, { error: 'expected an HTTP header name' }),
        z.union([z.string().regex(HEADER_VALUE, { error: HEADER_VALUE_PROBLEM }), secretSchema], {
          error: unionError('expected a string, or a secret reference: { env: NAME } or { file: PATH }'),
        }),
      )
      .optional()
      .describe(
        'Extra request headers, each value one line; a value that is a credential (Authorization) goes as a secret reference: { env: NAME }. ' +
          'firedrill sets Content-Type, User-Agent, X-Firedrill-Delivery (the run id, the same on every retry, to drop duplicates by) ' +
          'and the signature headers itself. (Default: none)',
      ),
    retries: z
      .int()
      .min(0)
      .max(10)
      .default(3)
      .describe(
        'Further attempts after a network error, a timeout, HTTP 408, 429 or 5xx, waiting 1s, 2s, 4s, ... between them, or as Retry-After asks ' +
          'up to 1m (an endpoint that asks for longer is not retried). (Default: 3)',
      ),
    timeout: timeoutSchema('How long one attempt may take, answer included. (Default: 10s)').prefault('10s'),
  })
  .superRefine((config, context) => {
    if (config.url instanceof Secret && config.url.resolved) {
      const problem = httpUrlProblem(config.url.reveal());
      if (problem) context.addIssue({ code: 'custom', path: ['url'], message: `the URL in ${config.url.origin}: ${problem}` });
    }
    for (const [name, value] of Object.entries(config.headers ?? {})) {
      if (RESERVED_HEADERS.has(name.toLowerCase())) context.addIssue({ code: 'custom', path: ['headers', name], message: 'firedrill sets this header itself' });
      else if (value instanceof Secret && value.resolved && !HEADER_VALUE.test(value.reveal())) {
        context.addIssue({ code: 'custom', path: ['headers', name], message: `the value in ${value.origin}: ${HEADER_VALUE_PROBLEM}` });
      }
    }
  })
  .describe('POST the run\'s outcome to a URL: a JSON payload for your own tools, or a Slack message.');

export type WebhookNotifyConfig = z.output<typeof webhookNotifySchema>;

/** How one attempt failed. Every text in it is scrubbed already: redacted, and without the URL's path or query. */
type Failure =
  | { kind: 'answered'; status: number; statusText: string; body: string; retryAfterMs: number | undefined; location: string | undefined }
  | { kind: 'unreachable'; code: string | undefined; detail: string; cause: Error }
  | { kind: 'timeout' };

export class WebhookNotifier implements Notifier {
  readonly type = 'webhook';
  readonly description: string;
  readonly events: ReadonlySet<NotificationEvent>;
  readonly #config: WebhookNotifyConfig;
  readonly #timing: RetryTiming;

  constructor(config: WebhookNotifyConfig, timing: RetryTiming = {}) {
    this.#config = config;
    this.#timing = timing;
    this.events = expandEvents(config.on);
    const { url, format } = config;
    this.description = url instanceof Secret ? `webhook (${format}) from ${url.origin}` : `webhook (${format}) to ${new URL(url).host}`;
  }

  async send(notification: Notification, context: NotifierContext): Promise<{ attempts: number }> {
    const target = this.#target();
    // The report arrives redacted. No redactText over the JSON text as a last pass: its password=... pattern
    // could swallow a closing quote and break the JSON.
    const body = JSON.stringify(this.#config.format === 'slack' ? buildSlackPayload(notification) : buildWebhookPayload(notification));
    const headers = { ...this.#headers(), 'x-firedrill-delivery': notification.report.runId };
    const key = this.#signingKey();
    return deliverWithRetries(
      {
        notifier: this.description,
        target: `webhook to ${target.host}`,
        maxAttempts: this.#config.retries + 1,
        timing: this.#timing,
        attempt: () => this.#post(target, body, headers, key, context.signal),
        classify: (failure) => this.#classify(failure),
        fail: (failure, attempts) => new NotifyError(this.#explain(failure, target, attempts), attempts, failure.kind === 'unreachable' ? { cause: failure.cause } : undefined),
      },
      context,
    );
  }

  /** The URL, from the config or its secret; a problem with it fails before any attempt. */
  #target(): URL {
    const { url } = this.#config;
    let text: string;
    try {
      text = url instanceof Secret ? url.reveal() : url;
    } catch (error) {
      throw new NotifyError(`the webhook URL is not available: ${errorMessage(error)}`, 0);
    }
    const problem = httpUrlProblem(text);
    if (problem) throw new NotifyError(`the webhook URL${url instanceof Secret ? ` in ${url.origin}` : ''} is not usable: ${problem}`, 0);
    return new URL(text);
  }

  #headers(): Record<string, string> {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(this.#config.headers ?? {})) {
      let text: string;
      try {
        text = value instanceof Secret ? value.reveal() : value;
      } catch (error) {
        throw new NotifyError(`the value of header ${name} is not available: ${errorMessage(error)}`, 0);
      }
      // A secret is read after the config was checked; fetch's own error would quote the value.
      if (!HEADER_VALUE.test(text)) throw new NotifyError(`the value of header ${name}${value instanceof Secret ? ` in ${value.origin}` : ''} is not usable: ${HEADER_VALUE_PROBLEM}`, 0);
      headers[name] = text;
    }
    headers['content-type'] = 'application/json';
    headers['user-agent'] = `firedrill/${FIREDRILL_VERSION}`;
    return headers;
  }

  #signingKey(): string | undefined {
    try {
      return this.#config.secret?.reveal();
    } catch (error) {
      throw new NotifyError(`the webhook's signing secret is not available: ${errorMessage(error)}`, 0);
    }
  }

  /** One POST: undefined when delivered (any 2xx), else how it failed. */
  async #post(target: URL, body: string, baseHeaders: Record<string, string>, key: string | undefined, stop: AbortSignal): Promise<Failure | undefined> {
    const headers = { ...baseHeaders };
    if (key !== undefined) {
      // Signed afresh for every attempt: a retry a minute later carries a current timestamp.
      const timestamp = Math.floor(Date.now() / 1000).toString();
      headers['x-firedrill-timestamp'] = timestamp;
      headers['x-firedrill-signature'] = signatureFor(key, timestamp, body);
    }
    const scrub = (text: string) => snippet(withoutPathOrQuery(text, target));
    const timeout = AbortSignal.timeout(this.#config.timeout);
    let response: Response;
    try {
      // Redirects are not followed: fetch would turn the POST into a GET, and the new location is the URL to configure.
      response = await fetch(target, { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.any([stop, timeout]) });
    } catch (error) {
      if (timeout.aborted) return { kind: 'timeout' };
      const { cause } = error as { cause?: { code?: unknown; message?: unknown; errors?: { code?: unknown }[] } };
      // Connecting to a name with several addresses fails with an AggregateError: its code, or its first error's.
      const code = [cause?.code, cause?.errors?.[0]?.code].find((candidate): candidate is string => typeof candidate === 'string');
      const detail = code ?? scrub(typeof cause?.message === 'string' ? cause.message : errorMessage(error));
      return { kind: 'unreachable', code, detail, cause: scrubbedCause(cause instanceof Error ? cause : error, (text) => redactText(withoutPathOrQuery(text, target))) };
    }
    if (response.ok) {
      // Delivered: the status says so. The body is dropped unread, so that one that stalls or is reset
      // cannot turn a delivery into a failure, and its retry into a duplicate message.
      void response.body?.cancel().catch(() => undefined);
      return undefined;
    }
    const redirect = response.status >= 300 && response.status < 400;
    if (redirect) void response.body?.cancel().catch(() => undefined);
    return {
      kind: 'answered',
      status: response.status,
      statusText: scrub(response.statusText),
      // A redirect's body is not read: it may echo the URL, token and all.
      body: redirect ? '' : scrub(await readAnswer(response)),
      retryAfterMs: retryAfter(response.headers.get('retry-after')),
      location: response.headers.get('location') ?? undefined,
    };
  }

  #classify(failure: Failure): Verdict {
    switch (failure.kind) {
      case 'timeout':
        return { retry: true, brief: `no answer within ${formatDuration(this.#config.timeout)}` };
      case 'unreachable':
        return failure.code !== undefined && RETRYABLE_NETWORK_CODES.has(failure.code) ? { retry: true, brief: failure.detail } : { retry: false };
      case 'answered':
        if (!isRetryableStatus(failure.status) || this.#asksTooLong(failure)) return { retry: false };
        return { retry: true, brief: httpStatus(failure), delayMs: failure.retryAfterMs };
    }
  }

  /** A Retry-After longer than firedrill waits: retrying sooner would go against what the endpoint asked. */
  #asksTooLong(failure: { retryAfterMs: number | undefined }): boolean {
    return (failure.retryAfterMs ?? 0) > maxDelay(this.#timing);
  }

  #explain(failure: Failure, target: URL, attempts: number): string {
    const host = target.host;
    const after = attempts > 1 ? ` after ${plural(attempts, 'attempt')}` : '';
    switch (failure.kind) {
      case 'timeout':
        return `${host} did not answer within ${formatDuration(this.#config.timeout)}${after}; check that the endpoint is up, or raise timeout`;
      case 'unreachable':
        return `could not reach ${host} (${failure.detail})${after}; check the URL and that this host may connect to it`;
      case 'answered': {
        const http = `${httpStatus(failure)}${failure.body ? `: ${failure.body}` : ''}`;
        if (failure.status >= 300 && failure.status < 400) {
          // Only the host of the Location: its path may carry a token, as the webhook URL's does.
          return `the endpoint at ${host} answered with a redirect (${http}) to ${locationHost(failure.location, target)}; redirects are not followed: configure the URL it redirects to`;
        }
        if (!isRetryableStatus(failure.status)) {
          const hint = failure.status === 401 || failure.status === 403 ? 'check the URL and the credentials in headers' : 'check the URL';
          return `the endpoint at ${host} refused it (${http}); ${hint}`;
        }
        if (this.#asksTooLong(failure)) {
          return `the endpoint at ${host} failed (${http}) and asked to retry after ${formatDuration(failure.retryAfterMs ?? 0)}; not retried (firedrill waits at most ${formatDuration(maxDelay(this.#timing))})`;
        }
        return `the endpoint at ${host} ${attempts > 1 ? 'kept failing' : 'failed'} (${http})${after}; check the receiving service`;
      }
    }
  }
}

/** `sha256=<hex>`: the HMAC-SHA256 of `<timestamp>.<body>`, keyed with the notifier's secret. */
export function signatureFor(key: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', key).update(`${timestamp}.${body}`).digest('hex')}`;
}

function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

function httpStatus(failure: { status: number; statusText: string }): string {
  return `HTTP ${failure.status}${failure.statusText ? ` ${failure.statusText}` : ''}`;
}

function locationHost(location: string | undefined, target: URL): string {
  if (location === undefined) return 'no Location';
  try {
    return new URL(location, target).host;
  } catch {
    return 'an unreadable Location';
  }
}

/** Retry-After as seconds or an HTTP date, in milliseconds; undefined when absent or unreadable. */
export function retryAfter(header: string | null, now = Date.now()): number | undefined {
  if (header === null) return undefined;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * The start of a refusing endpoint's answer, in whole lines: a line cut at
 * the read limit may end in half a secret, which redaction would no longer
 * recognize. A body that stalls or breaks off yields what came before.
 */
async function readAnswer(response: Response): Promise<string> {
  if (!response.body) return '';
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let complete = false;
  try {
    while (!complete && size < ANSWER_READ_BYTES) {
      const { done, value } = await reader.read();
      if (value) chunks.push(value);
      size += value?.byteLength ?? 0;
      complete = done;
    }
  } catch {
    // The status decides; what the body did not say is no loss.
  } finally {
    void reader.cancel().catch(() => undefined);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  return complete ? text : text.slice(0, text.lastIndexOf('\n') + 1);
}

/** The URL's path and query (a token may be there) and the whole URL, out of a text. */
function withoutPathOrQuery(text: string, url: URL): string {
  const parts = [url.href, `${url.pathname}${url.search}`, url.search, url.pathname].filter((part) => part.length > 1);
  let result = text;
  for (const part of parts) result = result.split(part).join('[redacted]');
  return result;
}
