/**
 * The few error classes firedrill throws. Each message says what happened,
 * where, and what to do; the original error travels as `cause`.
 *
 * A failed check is a result, not an exception. Exceptions decide a run's
 * status through `verdict`: `failed` means the backup itself is bad (it does
 * not restore, or its bytes changed), `error` means the drill could not run
 * (bad config, source down, sandbox would not start) and says nothing about the
 * backup.
 */

export type ErrorVerdict = 'failed' | 'error';

export abstract class FiredrillError extends Error {
  abstract readonly verdict: ErrorVerdict;
  /** A short name for reports: "config", "backup", "restore", ... */
  abstract readonly kind: string;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** One problem in a config or drill file: where it is and what was expected. */
export interface ConfigProblem {
  /** The file, relative to the working directory when possible. */
  file: string;
  /** The key path inside the file, e.g. `checks[2].expect.min`; empty for the whole file. */
  path: string;
  message: string;
}

export function formatConfigProblem(problem: ConfigProblem): string {
  return problem.path ? `${problem.file}: ${problem.path}: ${problem.message}` : `${problem.file}: ${problem.message}`;
}

/** Invalid or unreadable configuration. Carries every problem found, not just the first. */
export class ConfigError extends FiredrillError {
  readonly verdict = 'error';
  readonly kind = 'config';
  readonly problems: ConfigProblem[];

  constructor(problems: ConfigProblem[], options?: { cause?: unknown }) {
    const lines = problems.map(formatConfigProblem);
    const heading = problems.length === 1 ? 'invalid configuration' : `invalid configuration (${problems.length} problems)`;
    super(`${heading}:\n  ${lines.join('\n  ')}`, options);
    this.problems = problems;
  }
}

/** Misuse of the command line: unknown drill, conflicting flags. */
export class UsageError extends FiredrillError {
  readonly verdict = 'error';
  readonly kind = 'usage';
}

/** The backup could not be taken: source unreachable, tool too old, pg_dump failed. */
export class BackupError extends FiredrillError {
  readonly verdict = 'error';
  readonly kind = 'backup';
}

/** The repository could not be read or written. Says nothing about the backup's quality. */
export class RepositoryError extends FiredrillError {
  readonly verdict = 'error';
  readonly kind = 'repository';
}

/** The throwaway restore target could not be started or used: an environment problem. */
export class SandboxError extends FiredrillError {
  readonly verdict = 'error';
  readonly kind = 'sandbox';
}

/** The backup did not restore. This is what drills exist to find, so it fails the drill. */
export class RestoreError extends FiredrillError {
  readonly verdict = 'failed';
  readonly kind = 'restore';
}

/** Stored bytes differ from what the manifest recorded: the backup is corrupt. */
export class IntegrityError extends FiredrillError {
  readonly verdict = 'failed';
  readonly kind = 'integrity';
}

/** The run was stopped by a signal or a caller's AbortSignal. */
export class AbortedError extends Error {
  constructor(reason = 'the run was aborted', options?: { cause?: unknown }) {
    super(reason, options);
    this.name = 'AbortedError';
  }
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * True when `error`, or one of its causes, is a full filesystem or quota:
 * Node's ENOSPC/EDQUOT, or a child's words for them (zstd, pg_restore, initdb and
 * the PostgreSQL server's "Check free disk space").
 * Never the backup's fault: callers say which filesystem and what to do.
 */
export function isOutOfSpace(error: unknown): boolean {
  for (let current: unknown = error, depth = 0; current !== undefined && current !== null && depth < 8; current = (current as { cause?: unknown }).cause, depth++) {
    const code = (current as NodeJS.ErrnoException | undefined)?.code;
    if (code === 'ENOSPC' || code === 'EDQUOT') return true;
    // PostgreSQL's own: a short write ends in "HINT: Check free disk space." without the errno text.
    if (/No space left on device|Disk quota exceeded|Check free disk space/i.test(errorMessage(current))) return true;
  }
  return false;
}
