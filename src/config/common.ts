import { z } from 'zod';
import { DURATION_EXAMPLES, parseDuration } from './duration.ts';
import { Secret } from '../secret.ts';

/** Building blocks shared by the runner config and drill schemas. */

const DURATION_PATTERN = /^\s*(?:\d+(?:\.\d+)?\s*(?:ms|s|m|h|d)\s*)+$/;

/** A duration such as `10m`; parsed to milliseconds. */
export function durationSchema(description: string) {
  return z
    .string()
    .regex(DURATION_PATTERN, { error: `expected a duration like ${DURATION_EXAMPLES}` })
    .transform((text) => parseDuration(text) as number)
    .describe(description);
}

/** An IANA timezone name the runtime knows (`UTC`, `Europe/Berlin`): cron schedules are read in it. */
export const timezoneSchema = z.string().refine(
  (name) => {
    try {
      new Intl.DateTimeFormat('en', { timeZone: name });
      return true;
    } catch {
      return false;
    }
  },
  { error: 'expected an IANA timezone name, e.g. UTC, Europe/Berlin or America/New_York' },
);

/** Timers and PostgreSQL's timeouts hold at most 2^31-1 milliseconds, about 24 days. */
const LONGEST_TIMEOUT_MS = 2_147_483_647;

/** A duration that becomes a timer or a statement/lock timeout: bounded, so it cannot overflow into "at once". */
export function timeoutSchema(description: string) {
  return durationSchema(description).refine((milliseconds) => milliseconds >= 1 && milliseconds <= LONGEST_TIMEOUT_MS, {
    error: 'expected a timeout between 1ms and 24 days',
  });
}

/**
 * The environment secrets are resolved from while a file is parsed. zod has no
 * parse context, and resolving inside the schema is what puts a missing
 * variable's problem at its own key path (`source.password`). Set only for
 * the duration of one synchronous parse, by `parseWithEnvironment`.
 */
let parseEnvironment: { env: NodeJS.ProcessEnv; resolveSecrets: boolean } | undefined;

/**
 * `resolveSecrets: false` leaves secrets unresolved, for commands that only
 * read metadata (`list`, `backups`): an operator may inspect backups without
 * holding the production database's password.
 */
export function parseWithEnvironment<T extends z.ZodType>(
  schema: T,
  data: unknown,
  env: NodeJS.ProcessEnv,
  options: { resolveSecrets: boolean },
): ReturnType<T['safeParse']> {
  parseEnvironment = { env, resolveSecrets: options.resolveSecrets };
  try {
    return schema.safeParse(data) as ReturnType<T['safeParse']>;
  } finally {
    parseEnvironment = undefined;
  }
}

/**
 * A secret given by reference, never inline: `{ env: NAME }` or `{ file: PATH }`.
 * Resolved while parsing; a missing variable or unreadable file is a config
 * problem that names it.
 */
export const secretSchema = z
  .union(
    [
      z.strictObject({ env: z.string().min(1).describe('Name of the environment variable that holds the secret.') }),
      z.strictObject({ file: z.string().min(1).describe('Path of a file that holds the secret (a trailing newline is ignored).') }),
    ],
    { error: 'expected a secret reference: { env: NAME } or { file: PATH } (secrets are never written inline)' },
  )
  .transform((reference, context) => {
    const secret = Secret.fromReference(reference);
    if (parseEnvironment?.resolveSecrets === false) return secret;
    const problem = secret.resolve(parseEnvironment?.env ?? process.env);
    if (problem) {
      context.addIssue({ code: 'custom', message: problem });
      return z.NEVER;
    }
    return secret;
  });

/** Names of drills, repositories and sandboxes: they become directory names and label values. */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export const nameSchema = z
  .string()
  .regex(NAME_PATTERN, { error: 'expected a name of letters, digits, ".", "_" or "-" (at most 63, starting with a letter or digit)' });

export const positiveIntegerSchema = z.int().min(1);
