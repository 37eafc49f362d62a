/**
 * Central secret redaction. Every secret firedrill reads (from `{ env }`,
 * `{ file }` or a password inside a connection URL) is wrapped in a `Secret`,
 * which registers its value here. Everything that leaves the process as text
 * (log lines, reports, terminal output, error messages) passes through
 * `redactText`, so a secret that slipped into a string by accident is still
 * masked. Tests plant a canary secret and search every output for it.
 */

export const REDACTED = '[redacted]';

/**
 * Values shorter than this are not scrubbed from text: masking every "a" in a
 * log would destroy it. Such a short secret is still never printed on purpose.
 */
const MIN_SCRUBBED_LENGTH = 4;

const knownSecretForms = new Set<string>();
/** Longest first, so a secret that contains another is masked whole. Rebuilt when a secret is added. */
let formsLongestFirst: string[] = [];

/** Called by `Secret` for every value it holds; exported for that use only. */
export function registerSecretValue(value: string): void {
  if (value.length < MIN_SCRUBBED_LENGTH) return;
  // The same secret can appear escaped by JSON or percent-encoded in a URL.
  for (const form of [value, JSON.stringify(value).slice(1, -1), encodeURIComponent(value)]) {
    if (form.length >= MIN_SCRUBBED_LENGTH) knownSecretForms.add(form);
  }
  // A key file (an age identity, a PEM key) is one secret of several lines: any line of it may be quoted alone.
  for (const line of value.split(/\r?\n/)) {
    const trimmed = line.trim();
    if (trimmed !== value && trimmed.length >= MIN_SCRUBBED_LENGTH && !trimmed.startsWith('#') && !/^-----(BEGIN|END) /.test(trimmed)) knownSecretForms.add(trimmed);
  }
  formsLongestFirst = [...knownSecretForms].sort((a, b) => b.length - a.length);
}

// `scheme://user:password@host` → `scheme://user:[redacted]@host`. Greedy up to the last `@` before the
// path, so that a password containing an unencoded `@` is masked whole.
const URL_PASSWORD = /([a-z][a-z0-9+.-]*:\/\/[^/\s:@]*):([^\s/]*)@/gi;
// libpq keyword strings: `password=...`
const KEYWORD_PASSWORD = /\b(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s]+)/gi;

export function redactText(text: string): string {
  // Known secrets first: a pattern below could cut one in two and leave a piece of it behind.
  let result = text;
  for (const form of formsLongestFirst) {
    if (result.includes(form)) result = result.split(form).join(REDACTED);
  }
  result = result.replace(URL_PASSWORD, (_match, prefix: string) => `${prefix}:${REDACTED}@`);
  return result.replace(KEYWORD_PASSWORD, (_match, prefix: string) => `${prefix}${REDACTED}`);
}

/**
 * Every string in a JSON-like value (a report, a payload) redacted, keys
 * included. Done before the value is escaped, shortened or encoded for
 * somewhere else (HTML, Slack, an email subject): a secret that has been
 * escaped or cut no longer matches, so redacting afterwards would miss it.
 */
export function redactDeep<T>(value: T): T {
  if (typeof value === 'string') return redactText(value) as T;
  if (Array.isArray(value)) return value.map((item: unknown) => redactDeep(item)) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [redactText(key), redactDeep(item)])) as T;
  }
  return value;
}
