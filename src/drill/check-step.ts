import type { Check, CheckOutcome, RestoredTarget } from '../interfaces.ts';
import type { TargetRecord } from '../repository/manifest.ts';
import type { CheckRecord } from '../report/report.ts';
import type { DrillRunContext } from './run-context.ts';
import { ReadOnlyDatabase } from '../checks/check-database.ts';
import { AbortedError, errorMessage } from '../errors.ts';
import { formatDuration } from '../config/duration.ts';

/**
 * Runs the checks one after another. A check that throws (a SQL error, a
 * lost connection) or overruns its timeout is a failed check with a message,
 * not a crashed drill: the other checks still run, and the report shows all.
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
  const onAbort = () => void database.close();
  context.signal.addEventListener('abort', onAbort, { once: true });
  try {
    const timedOut = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        // Closing the sessions stops the server-side work too.
        void database.close();
        reject(new Error(`timed out after ${formatDuration(check.timeoutMs)} (the check's timeout)`));
      }, check.timeoutMs);
    });
    return await Promise.race([check.run({ logger, signal: context.signal, database, target }), timedOut]);
  } catch (error) {
    throw new Error(describeCheckError(error), { cause: error });
  } finally {
    clearTimeout(timer);
    context.signal.removeEventListener('abort', onAbort);
    await database.close();
  }
}

/** PostgreSQL's own words, with the statement_timeout case said plainly. */
function describeCheckError(error: unknown): string {
  const code = (error as { code?: string }).code;
  if (code === '57014') return 'timed out (statement_timeout, the check\'s timeout, cancelled the query)';
  const message = errorMessage(error);
  return code ? `query failed: ${message} (SQLSTATE ${code})` : message;
}
