import { createHash, timingSafeEqual } from 'node:crypto';
import type { Secret } from '../secret.ts';

/**
 * The bearer token of `POST /api/drills/:name/run`. Compared as SHA-256
 * digests with `timingSafeEqual`: both sides are 32 bytes whatever was sent,
 * so neither the time taken nor an early length check tells a caller how
 * much of a guess was right, or how long the token is.
 */

export type Authorization =
  | { result: 'allowed' }
  /** No server.token configured: on-demand runs over HTTP are off. */
  | { result: 'disabled' }
  /** No Authorization header, or not `Bearer <token>`. */
  | { result: 'missing' }
  | { result: 'wrong token' };

// Any token without spaces: server.token is whatever the operator chose, not necessarily token68.
const BEARER = /^Bearer +(\S+) *$/i;

export function authorize(header: string | undefined, token: Secret | undefined): Authorization {
  if (!token) return { result: 'disabled' };
  const match = header === undefined ? null : BEARER.exec(header);
  if (!match) return { result: 'missing' };
  return tokensEqual(match[1] as string, token.reveal()) ? { result: 'allowed' } : { result: 'wrong token' };
}

export function tokensEqual(given: string, expected: string): boolean {
  const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();
  return timingSafeEqual(digest(given), digest(expected));
}
