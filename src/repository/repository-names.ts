import { IntegrityError, RepositoryError } from '../errors.ts';
import { manifestSchema, type Manifest } from './manifest.ts';
import { formatPath } from '../config/problems.ts';
import type { StoredRunResult } from '../interfaces.ts';

/** Shared by every repository type: names that become path segments or keys, and manifest parsing. */

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Where run results live beside a drill's backups: never listed as a backup. */
export const RUN_RESULTS_DIRECTORY = 'reports';

/** Whether an entry of a drill's directory or prefix is a backup: not the run results, not hidden (write tests, temp files). */
export function isBackupId(name: string): boolean {
  return name !== RUN_RESULTS_DIRECTORY && !name.startsWith('.') && SAFE_NAME.test(name);
}

/** The few fields retention needs from a stored run result; anything unreadable is skipped. */
export function parseRunResult(text: string): StoredRunResult | undefined {
  try {
    // A stored run result is the run's report (report.ts): the backup is `backup.id`.
    const data = JSON.parse(text) as { runId?: unknown; status?: unknown; backup?: { id?: unknown }; finishedAt?: unknown };
    if (typeof data.runId !== 'string' || typeof data.status !== 'string') return undefined;
    const backupId = typeof data.backup?.id === 'string' ? data.backup.id : undefined;
    return { runId: data.runId, status: data.status, backupId, finishedAt: typeof data.finishedAt === 'string' ? data.finishedAt : undefined };
  } catch {
    return undefined;
  }
}

/** Refuses anything that could climb out of a backup's directory or prefix (`..`, `/`). */
export function assertSafeName(name: string, what: string): void {
  if (!SAFE_NAME.test(name) || name.includes('..')) {
    throw new RepositoryError(`invalid ${what} ${JSON.stringify(name)}: expected letters, digits, ".", "_" or "-"`);
  }
}

/** Parses and validates a manifest; `where` names the file or key in messages. A damaged manifest is a damaged backup. */
export function parseManifest(text: string, where: string): Manifest {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new IntegrityError(`manifest ${where} is not valid JSON (${(error as Error).message}); the backup cannot be trusted or restored`, {
      cause: error,
    });
  }
  const result = manifestSchema.safeParse(data);
  if (!result.success) {
    const first = result.error.issues.slice(0, 3).map((issue) => `${formatPath(issue.path) || '(root)'}: ${issue.message}`);
    throw new IntegrityError(`manifest ${where} is not a valid firedrill manifest (${first.join('; ')}); the backup cannot be trusted or restored`);
  }
  return result.data;
}

/**
 * A backup that disappeared, manifest and all, between being chosen and being
 * read: deleted by retention or a prune elsewhere. An infrastructure error
 * (exit 2), not a damaged backup: nothing says it was bad.
 */
export function deletedWhileReading(drill: string, backupId: string, repository: string, cause: unknown): RepositoryError {
  return new RepositoryError(
    `backup ${backupId} of drill "${drill}" was deleted from ${repository} while this run was reading it (retention or a prune on another machine?); ` +
      'nothing was restored, and nothing says the backup was bad. Run the drill again to drill another backup',
    { cause },
  );
}
