import { setTimeout as sleep } from 'node:timers/promises';
import { SandboxError, errorMessage } from '../errors.ts';
import { throwIfAborted } from '../abort.ts';
import type { PostgresConnection } from '../engines/postgres/postgres-connection.ts';
import { connect, disconnect } from '../engines/postgres/session.ts';
import { majorFromVersionNumber } from '../engines/postgres/postgres-tools.ts';

/**
 * A sandbox server is ready when a real query succeeds, not when it logs that
 * it is: the official image logs "ready to accept connections" for its
 * temporary init server too, and a port can be bound (docker-proxy) long
 * before anything answers on it. Polls until a query answers, the server is
 * gone, the time is up, or the run is stopped; says which, with the server's
 * own last words.
 */
export async function waitUntilAnswering(
  connection: PostgresConnection,
  options: {
    timeoutMs: number;
    signal?: AbortSignal | undefined;
    /** Why the server can no longer answer (`PostgreSQL exited while starting`), or undefined while it runs. */
    whyGone: () => Promise<string | undefined>;
    /** `its log ends with: ...`, for messages. */
    lastWords: () => Promise<string>;
    /** The setting that gives the server more time (`sandboxes.local.startTimeout`), named when the time is up. */
    timeoutSetting?: string;
  },
): Promise<{ version: string; major: number }> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    throwIfAborted(options.signal);
    const gone = await options.whyGone();
    if (gone) throw new SandboxError(`${gone}; ${await options.lastWords()}`);
    try {
      const client = await connect(connection);
      try {
        const result = await client.query<{ version: string; number: string }>(
          "select current_setting('server_version') as version, current_setting('server_version_num') as number",
        );
        const row = result.rows[0] as { version: string; number: string };
        return { version: row.version, major: majorFromVersionNumber(Number(row.number)) };
      } finally {
        await disconnect(client, connection, { cancel: false });
      }
    } catch (error) {
      lastError = error;
    }
    await sleep(100);
  }
  // Never ready is the environment's failure, not the backup's: say what to look at and which knob gives more time.
  const more = options.timeoutSetting ? `\nIf the server is only slow to start, raise ${options.timeoutSetting}; if it never starts, the log above says why.` : '';
  throw new SandboxError(
    `PostgreSQL did not accept connections within ${Math.round(options.timeoutMs / 1000)}s (last error: ${errorMessage(lastError)}); ${await options.lastWords()}${more}`,
  );
}
