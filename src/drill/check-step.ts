import type { Check, CheckContext, CheckDatabase, CheckOutcome } from '../interfaces.ts';
import type { RestoredTargetResult } from './restore-step.ts';
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

export async function runChecks(context: DrillRunContext, checks: Check[], targets: RestoredTargetResult[], results: CheckResult[]): Promise<void> {
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
        (logger) => runOne(context, check, targets, logger),
        (found) => found.status === 'failed',
      );
      result = record(outcome.status, outcome.message, outcome);
    } catch (error) {
      if (context.signal.aborted) {
        results.push(record('interrupted', 'the run was aborted while this check ran'));
        throw new AbortedError(undefined, { cause: error });
      }
      result = record('failed', errorMessage(error));
      const restored = targets.find((target) => target.record.name === check.target)?.restored;
      if (restored?.kind === 'database' && !(await sandboxAnswers(restored.connection))) {
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

async function runOne(context: DrillRunContext, check: Check, targets: RestoredTargetResult[], logger: DrillRunContext['logger']): Promise<CheckOutcome> {
  const targetNamed = (name: string) => {
    const found = targets.find((target) => target.record.name === name);
    if (!found) throw new Error(`the backup has no target "${name}" (it has ${targets.map((target) => target.record.name).join(', ')})`);
    return found;
  };
  const own = targetNamed(check.target);
  const connection = own.restored.kind === 'database' ? own.restored.connection : undefined;
  // Only a database target has sessions to open; a check of files that asks for one is a bug, said plainly.
  const database = connection ? new ReadOnlyDatabase(connection, check.timeoutMs) : undefined;
  // A check's own work stops with its timeout or the run: its database sessions are cancelled, its processes killed.
  const stop = new AbortController();
  const checkContext: CheckContext = {
    logger,
    signal: AbortSignal.any([context.signal, stop.signal]),
    target: own.record,
    restored: own.restored,
    get database(): CheckDatabase {
      if (!database) throw new Error(`target "${check.target}" is not a database`);
      return database;
    },
    otherTarget: (name) => {
      const other = targetNamed(name);
      return { record: other.record, restored: other.restored };
    },
  };
  let timer: NodeJS.Timeout | undefined;
  let finished = false;
  const stopWatching = onAbort(context.signal, () => {
    stop.abort(context.signal.reason);
    void database?.close({ cancel: true });
  });
  try {
    const timedOut = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        // Cancelling stops the server-side work too.
        void database?.close({ cancel: true });
        const error = new Error(`timed out after ${formatDuration(check.timeoutMs)} (the check's timeout)`);
        stop.abort(error);
        reject(error);
      }, check.timeoutMs);
    });
    const outcome = await Promise.race([check.run(checkContext), timedOut]);
    finished = true;
    return outcome;
  } catch (error) {
    throw new Error(describeCheckError(error), { cause: error });
  } finally {
    clearTimeout(timer);
    stopWatching();
    await database?.close({ cancel: !finished });
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
