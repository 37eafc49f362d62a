import pg from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import { clientConfig, type PostgresConnection } from './postgres-connection.ts';

/**
 * Connections firedrill opens to PostgreSQL, and how it lets go of them.
 * Ending a connection does not stop the query it is running: the server goes
 * on scanning (holding its snapshot and locks) until the query finishes. So
 * closing a session that may be busy first cancels its query, through
 * pg_cancel_backend on a second connection.
 */

export interface OpenOptions {
  types?: pg.CustomTypesConfig;
}

export async function connect(connection: PostgresConnection, options: OpenOptions = {}): Promise<pg.Client> {
  const client = new pg.Client({ ...clientConfig(connection), ...(options.types ? { types: options.types } : {}) });
  // A connection that breaks surfaces through the query that was using it; this only keeps it from crashing the process.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    throw error;
  }
  return client;
}

const END_TIMEOUT_MS = 5_000;

/**
 * Ends a session. With `cancel`, a query it may still be running is cancelled
 * on the server first. Never throws and never hangs: a connection that does
 * not end within a few seconds (a network partition) is dropped.
 */
export async function disconnect(client: pg.Client, connection: PostgresConnection, options: { cancel: boolean }): Promise<void> {
  const processId = (client as unknown as { processID: number | null }).processID;
  if (options.cancel && processId) await cancelBackend(connection, processId);
  const ended = await Promise.race([client.end().then(() => true, () => true), sleep(END_TIMEOUT_MS, false, { ref: false })]);
  if (!ended) (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
}

async function cancelBackend(connection: PostgresConnection, processId: number): Promise<void> {
  try {
    const canceller = await connect(connection);
    try {
      await canceller.query('select pg_cancel_backend($1)', [processId]);
    } finally {
      await canceller.end().catch(() => undefined);
    }
  } catch {
    // The server may be gone already; ending the connection below is all that is left to do.
  }
}
