import type { z } from 'zod';
import type { ConfigProblem } from '../errors.ts';
import { redactText } from '../redact.ts';

/**
 * Turns zod issues into problems a person can act on:
 * `checks[2].expect.min: expected a number, got "ten"`.
 * Values under secret-looking keys are never echoed.
 */

type Path = readonly PropertyKey[];

export function formatPath(path: Path): string {
  let text = '';
  for (const key of path) {
    if (typeof key === 'number') text += `[${key}]`;
    else text += text ? `.${String(key)}` : String(key);
  }
  return text;
}

export function issuesToProblems(file: string, issues: z.core.$ZodIssue[], input: unknown, schema: z.ZodType): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      const allowed = allowedKeysAt(schema, input, issue.path);
      for (const key of issue.keys) {
        const suggestion = allowed ? closest(key, allowed) : undefined;
        const hint = suggestion ? ` (did you mean "${suggestion}"?)` : allowed ? ` (expected one of: ${allowed.join(', ')})` : '';
        problems.push({ file, path: formatPath([...issue.path, key]), message: `unknown key${hint}` });
      }
      continue;
    }
    // A value can hold a secret interpolated from the environment: problems are scrubbed like every other output.
    problems.push({ file, path: formatPath(issue.path), message: redactText(describeIssue(issue, valueAt(input, issue.path), issue.path)) });
  }
  return problems;
}

function describeIssue(issue: z.core.$ZodIssue, value: unknown, path: Path): string {
  const got = describeValue(value, path);
  switch (issue.code) {
    case 'invalid_type':
      if (value === undefined) return `is required (expected ${withArticle(issue.expected)})`;
      return `expected ${withArticle(issue.expected)}, got ${got}`;
    case 'invalid_value':
      return issue.values.length > 2
        ? `expected one of ${issue.values.map((allowed) => JSON.stringify(allowed)).join(', ')}, got ${got}`
        : `expected ${issue.values.map((allowed) => JSON.stringify(allowed)).join(' or ')}, got ${got}`;
    case 'invalid_union':
      if ('note' in issue && issue.note === 'No matching discriminator') {
        const options = (issue as { options?: unknown[] }).options ?? [];
        const list = options.map(String).join(', ');
        return value === undefined ? `is required (one of: ${list})` : `unsupported ${String(path.at(-1))} ${got} (expected one of: ${list})`;
      }
      return issue.message === 'Invalid input' ? `does not match any allowed form, got ${got}` : `${issue.message}, got ${got}`;
    case 'too_small':
      return `${boundText(issue.origin, 'at least', issue.minimum, issue.inclusive)}, got ${got}`;
    case 'too_big':
      return `${boundText(issue.origin, 'at most', issue.maximum, issue.inclusive)}, got ${got}`;
    case 'invalid_format':
      return issue.message.startsWith('Invalid') ? `expected ${issue.format} format, got ${got}` : `${issue.message}, got ${got}`;
    default:
      return issue.message;
  }
}

function boundText(origin: string, word: string, bound: number | bigint, inclusive = true): string {
  if (origin === 'array' || origin === 'set') return `expected ${word} ${bound} item${bound === 1 ? '' : 's'}`;
  if (origin === 'string') return Number(bound) === 1 && word === 'at least' ? 'must not be empty' : `expected ${word} ${bound} characters`;
  const operator = word === 'at least' ? (inclusive ? '>=' : '>') : inclusive ? '<=' : '<';
  return `expected a number ${operator} ${bound}`;
}

function withArticle(type: string): string {
  if (type === 'array') return 'a list';
  if (type === 'object') return 'a mapping';
  if (type === 'int') return 'an integer';
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

const SECRET_KEY = /pass(word)?|secret|token|key|credential/i;

function describeValue(value: unknown, path: Path): string {
  if (path.some((key) => typeof key === 'string' && SECRET_KEY.test(key)) && typeof value === 'string') return 'a string (not shown)';
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return value.toString();
  return typeof value;
}

function valueAt(input: unknown, path: Path): unknown {
  let node = input;
  for (const key of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node;
}

/** The keys an object schema accepts at `path`, following the input through unions by discriminator. */
function allowedKeysAt(schema: z.ZodType, input: unknown, path: Path): string[] | undefined {
  let node: z.core.$ZodType | undefined = schema;
  let value = input;
  for (let index = 0; index <= path.length && node; index++) {
    node = unwrap(node, value);
    if (!node) return undefined;
    if (index === path.length) break;
    const key = path[index] as PropertyKey;
    const def = node._zod.def as unknown as Record<string, unknown>;
    if (def.type === 'object') node = (def.shape as Record<string, z.core.$ZodType>)[String(key)];
    else if (def.type === 'array') node = def.element as z.core.$ZodType;
    else if (def.type === 'record') node = def.valueType as z.core.$ZodType;
    else return undefined;
    value = valueAt(value, [key]);
  }
  const def = node?._zod.def as unknown as Record<string, unknown> | undefined;
  return def?.type === 'object' ? Object.keys(def.shape as object) : undefined;
}

function unwrap(node: z.core.$ZodType, value: unknown): z.core.$ZodType | undefined {
  for (;;) {
    const def = node._zod.def as unknown as Record<string, unknown>;
    if (def.type === 'optional' || def.type === 'default' || def.type === 'nullable' || def.type === 'prefault') {
      node = def.innerType as z.core.$ZodType;
    } else if (def.type === 'pipe') {
      node = def.in as z.core.$ZodType;
    } else if (def.type === 'union') {
      const options = def.options as z.core.$ZodType[];
      const discriminator = def.discriminator as string | undefined;
      const wanted = discriminator ? valueAt(value, [discriminator]) : undefined;
      const match = options.find((option) => {
        const shape = (unwrap(option, value)?._zod.def as unknown as { shape?: Record<string, z.core.$ZodType> }).shape;
        const literal = shape && discriminator ? (shape[discriminator]?._zod.def as unknown as { values?: unknown[] }).values : undefined;
        return literal ? literal.includes(wanted) : false;
      });
      if (!match) return undefined;
      node = match;
    } else {
      return node;
    }
  }
}

/** The allowed key nearest to a misspelt one, when it is near enough to be a typo. */
function closest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
