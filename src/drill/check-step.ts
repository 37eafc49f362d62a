import type { Check, CheckOutcome, RestoredTarget } from '../interfaces.ts';
import type { TargetRecord } from '../repository/manifest.ts';
import type { CheckRecord } from '../report/report.ts';
import type { DrillRunContext } from './run-context.ts';
import { ReadOnlyDatabase } from '../checks/check-database.ts';
import { AbortedError, SandboxError, errorMessage } from '../errors.ts';
import { onAbort } from '../abort.ts';
import { formatDuration } from '../config/duration.ts';

/**
 * Runs the checks one after another. A check that throws (a SQL error) or
 * overruns its timeout is a failed check with a message, not a crashed drill:
 * the other checks still run, and the report shows all. Only a sandbox that
 * went away ends the drill, as an environment error: it says nothing about
 * the backup.
 */

export interface CheckResult {
  record: CheckRecord;
  outcome: CheckOutcome | undefined;
}

export async function runChecks(context: DrillRunContext, checks: Check[], target: TargetRecord, restored: RestoredTarget): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const check of checks) {
    const started = performance.now();
    let outcome: CheckOutcome | undefined;
    let message: string;
    try {
      outcome = await context.phase(`check:${check.name}`, (logger) => runOne(context, check, target, restored, logger));
      message = outcome.message;
    } catch (error) {
      if (context.signal.aborted) throw new AbortedError();
      if (isSandboxGone(error)) {
        throw new SandboxError(`the sandbox stopped answering during check "${check.name}" (${errorMessage(error)}); the checks could not finish`, { cause: error });
      }
      message = errorMessage(error);
    }
    const record: CheckRecord = {
      name: check.name,
      type: check.type,
      status: outcome?.status ?? 'failed',
      message,
      durationMs: Math.round(performance.now() - started),
      ...(outcome?.details ? { details: outcome.details } : {}),
    };
    context.logger[record.status === 'passed' ? 'info' : 'warn']({ check: check.name, status: record.status, message }, `check ${record.status}`);
    results.push({ record, outcome });
  }
  return results;
}

async function runOne(
  context: DrillRunContext,
  check: Check,
  target: TargetRecord,
  restored: RestoredTarget,
  logger: DrillRunContext['logger'],
): Promise<CheckOutcome> {
  const database = new ReadOnlyDatabase(restored.connection, check.timeoutMs);
  let timer: NodeJS.Timeout | undefined;
  let finished = false;
  const stopWatching = onAbort(context.signal, () => void database.close({ cancel: true }));
  try {
    const timedOut = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        // Cancelling stops the server-side work too.
        void database.close({ cancel: true });
        reject(new Error(`timed out after ${formatDuration(check.timeoutMs)} (the check's timeout)`));
      }, check.timeoutMs);
    });
    const outcome = await Promise.race([check.run({ logger, signal: context.signal, database, target }), timedOut]);
    finished = true;
    return outcome;
  } catch (error) {
    throw new CheckError(describeCheckError(error), { cause: error });
  } finally {
    clearTimeout(timer);
    stopWatching();
    await database.close({ cancel: !finished });
  }
}

class CheckError extends Error {}

/** PostgreSQL's own words, with the statement_timeout case said plainly. */
function describeCheckError(error: unknown): string {
  const code = (error as { code?: string }).code;
  if (code === '57014') return "timed out (statement_timeout, the check's timeout, cancelled the query)";
  const message = errorMessage(error);
  return code ? `query failed: ${message} (SQLSTATE ${code})` : message;
}

/**
 * Connection failures (class 08), lack of resources (53), an administrator or
 * crash shutdown (57P) and system errors (58), and a refused or reset socket.
 */
function isSandboxGone(error: unknown): boolean {
  const cause = error instanceof CheckError ? error.cause : error;
  const code = (cause as { code?: string } | undefined)?.code ?? '';
  return /^(08|53|57P|58)/.test(code) || ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ENOENT'].includes(code);
}
