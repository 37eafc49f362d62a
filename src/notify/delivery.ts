import { setTimeout as sleep } from 'node:timers/promises';
import type { NotifierContext } from './notifier.ts';
import { formatDuration } from '../config/duration.ts';
import { errorMessage } from '../errors.ts';
import { redactText } from '../redact.ts';
import { plural, truncate } from './notification-text.ts';

/**
 * What email and webhook delivery share: one retry loop, the error that
 * carries how many attempts were made, the backoff between attempts, and the
 * scrubbing of what another system said before it goes into a message.
 */

/** A notification that finally failed. `attempts` is what the report records. */
export class NotifyError extends Error {
  readonly attempts: number;

  constructor(message: string, attempts: number, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NotifyError';
    this.attempts = attempts;
  }
}

/** Delivery timing, injectable so tests need not wait seconds. */
export interface RetryTiming {
  /** Wait before the second attempt; it doubles for each one after. (Default: 1000) */
  baseDelayMs?: number;
  /** The longest wait between attempts; a server that asks for longer (Retry-After) is not retried. (Default: 60000) */
  maxDelayMs?: number;
}

const DEFAULT_BASE_DELAY_MS = 1_000;
const DEFAULT_MAX_DELAY_MS = 60_000;

export function maxDelay(timing: RetryTiming = {}): number {
  return timing.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;
}

/** The wait after failed attempt `attempt` (1-based): base, 2×base, 4×base, ... capped. */
export function backoffDelay(attempt: number, timing: RetryTiming = {}): number {
  return Math.min((timing.baseDelayMs ?? DEFAULT_BASE_DELAY_MS) * 2 ** (attempt - 1), maxDelay(timing));
}

/** How a failed attempt counts. */
export type Verdict =
  /** `brief`: what failed in a few words, already scrubbed, for the log line; `delayMs`: the wait the other side asked for, at most the cap. */
  | { retry: true; brief: string; delayMs?: number | undefined }
  | { retry: false };

export interface Delivery<Failure> {
  /** The notifier's description, for log fields. */
  notifier: string;
  /** What is sent where, for log lines: `email via mail.internal:587`, `webhook to ops.example.com`. */
  target: string;
  maxAttempts: number;
  timing: RetryTiming;
  /** One attempt: resolves with undefined when delivered, else with what went wrong. */
  attempt: () => Promise<Failure | undefined>;
  classify: (failure: Failure) => Verdict;
  /** The error once no further attempt will be made: what went wrong, where, and what to do. */
  fail: (failure: Failure, attempts: number) => NotifyError;
}

/**
 * Attempts until one delivers, a failure is final, the attempts run out, or
 * the process is stopping (then it stops at once: a stopping firedrill must
 * not wait a minute for a webhook).
 */
export async function deliverWithRetries<Failure>(delivery: Delivery<Failure>, context: NotifierContext): Promise<{ attempts: number }> {
  const { signal, logger } = context;
  for (let attempt = 1; ; attempt++) {
    if (signal.aborted) throw stopped(attempt - 1);
    const failure = await delivery.attempt();
    if (failure === undefined) return { attempts: attempt };
    if (signal.aborted) throw stopped(attempt);
    const verdict = delivery.classify(failure);
    if (!verdict.retry || attempt >= delivery.maxAttempts) throw delivery.fail(failure, attempt);
    const delayMs = Math.max(verdict.delayMs ?? 0, backoffDelay(attempt, delivery.timing));
    logger.warn({ notifier: delivery.notifier, attempt }, `${delivery.target}: attempt ${attempt} failed (${verdict.brief}), retrying in ${formatDuration(delayMs)}`);
    if (!(await waitUnlessAborted(delayMs, signal))) throw stopped(attempt);
  }
}

function stopped(attempts: number): NotifyError {
  return new NotifyError(`stopped after ${plural(attempts, 'attempt')}: firedrill is stopping; the notification was not sent`, attempts);
}

/** Waits, or resolves false at once when the signal fires. */
async function waitUnlessAborted(milliseconds: number, signal: AbortSignal): Promise<boolean> {
  try {
    await sleep(milliseconds, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}

/**
 * The first non-empty line of what another system said (an SMTP reply, an
 * HTTP answer, an error message), at most `limit` characters. Redacted whole
 * before it is cut: a secret cut in two is no longer recognized, and its
 * first half would be printed.
 */
export function snippet(text: string, limit = 200): string {
  const line = redactText(text).split(/\r?\n/).find((candidate) => candidate.trim() !== '') ?? '';
  return truncate(line.trim(), limit);
}

/**
 * An error to keep as `cause`: its name, code, message and stack, scrubbed.
 * The original may carry a server's reply (which can echo a token) or a
 * request's details, and a cause is printed whole wherever the error is.
 */
export function scrubbedCause(error: unknown, scrub: (text: string) => string = redactText): Error {
  const cause = new Error(scrub(errorMessage(error)));
  cause.name = error instanceof Error ? error.name : 'Error';
  cause.stack = error instanceof Error && error.stack ? scrub(error.stack) : cause.stack;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') Object.assign(cause, { code });
  return cause;
}
