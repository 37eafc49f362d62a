import type { ServerResponse } from 'node:http';
import { redactText } from '../redact.ts';

/**
 * Writing responses. Every answer is `no-store` (a dashboard or a run's state
 * from a cache would be a lie) and `nosniff`; pages also carry a
 * Content-Security-Policy that lets them load nothing and run no script.
 */

const PAGE_POLICY = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

export function send(response: ServerResponse, status: number, contentType: string, body: string, headers: Record<string, string> = {}): void {
  response.writeHead(status, {
    'Content-Type': contentType,
    'Content-Length': String(Buffer.byteLength(body)),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    ...headers,
  });
  response.end(body);
}

/** JSON, with any secret that slipped into a message or a report scrubbed. */
export function sendJson(response: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  send(response, status, 'application/json; charset=utf-8', `${redactText(JSON.stringify(value, null, 2))}\n`, headers);
}

/** `message` is a sentence saying what went wrong and what to do. */
export function sendError(response: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  sendJson(response, status, { error: message }, headers);
}

export function sendPage(response: ServerResponse, status: number, html: string): void {
  send(response, status, 'text/html; charset=utf-8', html, { 'Content-Security-Policy': PAGE_POLICY, 'X-Frame-Options': 'DENY' });
}

/** An error where a person expected a page: plain text, not JSON. */
export function sendPageError(response: ServerResponse, status: number, message: string): void {
  send(response, status, 'text/plain; charset=utf-8', `${redactText(message)}\n`);
}
