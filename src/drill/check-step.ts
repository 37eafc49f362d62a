import type { Check, CheckOutcome, RestoredTarget } from '../interfaces.ts';
import type { TargetRecord } from '../repository/manifest.ts';
import type { CheckRecord } from '../report/report.ts';
import type { DrillRunContext } from './run-context.ts';
import type { PostgresConnection } from '../engines/postgres/postgres-connection.ts';
import { ReadOnlyDatabase } from '../checks/check-database.ts';
import { AbortedError, SandboxError, errorMessage } from '../errors.ts';
import { onAbort } from '../abort.ts';
import { formatDuration } from '../config/duration.ts';
import { connect, disconnect } from '../engines/postgres/session.ts';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Runs the checks one after another, recording each result as it comes (the
 * caller keeps them even when the run stops half-way). A check that throws
 * (a SQL error) or overruns its timeout is a failed check with a message, not
 * a crashed drill: the other checks still run. Only a sandbox that no longer
 * answers ends the drill, as an environment error that says nothing about the
 * backup.
 */

export interface CheckResult {
  record: CheckRecord;
  outcome: CheckOutcome | undefined;
}

export async function runChecks(
  context: DrillRunContext,
  checks: Check[],
  target: TargetRecord,
  restored: RestoredTarget,
  results: CheckResult[],
): Promise<void> {
  for (const check of checks) {
    // Stopped between two checks: the next one never started, and is reported as not run.
    if (context.signal.aborted) throw new AbortedError();
    const started = performance.now();
    const record = (status: CheckRecord['status'], message: string, outcome?: CheckOutcome): CheckResult => ({
      record: {
        name: check.name,
        type: check.type,
        status,
        message,
        durationMs: Math.round(performance.now() - started),
        ...(outcome?.details ? { details: outcome.details } : {}),
      },
      outcome,
    });
    let result: CheckResult;
    try {
      const outcome = await context.phase(
        `check:${check.name}`,
        (logger) => runOne(context, check, target, restored, logger),
        (found) => found.status === 'failed',
      );
      result = record(outcome.status, outcome.message, outcome);
    } catch (error) {
      if (context.signal.aborted) {
        results.push(record('interrupted', 'the run was aborted while this check ran'));
        throw new AbortedError(undefined, { cause: error });
      }
      result = record('failed', errorMessage(error));
      if (!(await sandboxAnswers(restored.connection))) {
        results.push(record('interrupted', `the sandbox stopped answering: ${errorMessage(error)}`));
        throw new SandboxError(`the sandbox stopped answering during check "${check.name}" (${errorMessage(error)}); the checks could not finish`, {
          cause: error,
        });
      }
    }
    context.logger[result.record.status === 'passed' ? 'info' : 'warn'](
      { check: check.name, status: result.record.status, message: result.record.message },
      `check ${result.record.status}`,
    );
    results.push(result);
  }
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
    throw new Error(describeCheckError(error), { cause: error });
  } finally {
    clearTimeout(timer);
    stopWatching();
    await database.close({ cancel: !finished });
  }
}

/** PostgreSQL's own words, with the statement_timeout case said plainly. */
function describeCheckError(error: unknown): string {
  const code = (error as { code?: string }).code;
  if (code === '57014') return "timed out (statement_timeout, the check's timeout, cancelled the query)";
  const message = errorMessage(error);
  return code ? `query failed: ${message} (SQLSTATE ${code})` : message;
}

/**
 * Whether the sandbox still takes a new connection and a query: the only
 * sure way to tell a check's own error (a missing file, a temp_file_limit)
 * from a sandbox that crashed or ran out of resources.
 */
async function sandboxAnswers(connection: PostgresConnection): Promise<boolean> {
  const probe = (async () => {
    const client = await connect(connection);
    try {
      await client.query('select 1');
      return true;
    } finally {
      await disconnect(client, connection, { cancel: false });
    }
  })().catch(() => false);
  // A sandbox that hangs does not answer either.
  return Promise.race([probe, sleep(PROBE_TIMEOUT_MS, false, { ref: false })]);
}

const PROBE_TIMEOUT_MS = 10_000;
