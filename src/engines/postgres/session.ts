import { connect as connectSocket } from 'node:net';
import pg from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import { clientConfig, type PostgresConnection } from './postgres-connection.ts';

/**
 * Connections firedrill opens to PostgreSQL, and how it lets go of them.
 * Ending a connection does not stop the query it is running: the server goes
 * on scanning (holding its snapshot and locks) until the query finishes. So
 * closing a session that may be busy first cancels its query with the
 * protocol's CancelRequest (what libpq's PQcancel sends): it needs no login
 * and no free connection slot, and its secret key can only reach that one
 * backend.
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

/** How long cancelling and ending may take before the connection is simply dropped. */
const LET_GO_TIMEOUT_MS = 5_000;

/**
 * Ends a session. With `cancel`, a query it may still be running is cancelled
 * on the server first. Never throws and never hangs: whatever does not finish
 * within a few seconds (a network partition) is dropped.
 */
export async function disconnect(client: pg.Client, connection: PostgresConnection, options: { cancel: boolean }): Promise<void> {
  const keys = client as unknown as { processID: number | null; secretKey: number | null };
  if (options.cancel && keys.processID !== null && keys.secretKey !== null) {
    await withinTimeout(sendCancelRequest(connection, keys.processID, keys.secretKey));
  }
  const ended = await withinTimeout(client.end().then(() => true, () => true));
  if (!ended) (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
}

async function withinTimeout<T>(work: Promise<T>): Promise<T | undefined> {
  return Promise.race([work, sleep(LET_GO_TIMEOUT_MS, undefined, { ref: false })]);
}

/** The 16-byte CancelRequest: length, the code 80877102, the backend's pid and secret key. */
function sendCancelRequest(connection: PostgresConnection, processId: number, secretKey: number): Promise<void> {
  return new Promise((resolve) => {
    const socket = connection.host.startsWith('/')
      ? connectSocket(`${connection.host}/.s.PGSQL.${connection.port}`)
      : connectSocket(connection.port, connection.host);
    const packet = Buffer.alloc(16);
    packet.writeInt32BE(16, 0);
    packet.writeInt32BE(80877102, 4);
    packet.writeInt32BE(processId, 8);
    packet.writeInt32BE(secretKey, 12);
    socket.once('connect', () => socket.end(packet));
    // The server closes the connection without answering; either way there is nothing more to do.
    socket.once('close', () => resolve());
    socket.once('error', () => resolve());
    socket.setTimeout(LET_GO_TIMEOUT_MS, () => socket.destroy());
  });
}

/**
 * Sessions opened together and closed together (parallel counting sessions).
 * Once the group is closed, a session whose connection was still being
 * opened is closed as soon as it arrives, instead of living on unnoticed.
 */
export class SessionGroup {
  readonly #connection: PostgresConnection;
  readonly #options: OpenOptions;
  readonly #clients: pg.Client[] = [];
  #closing: Promise<void> | undefined;

  constructor(connection: PostgresConnection, options: OpenOptions = {}) {
    this.#connection = connection;
    this.#options = options;
  }

  get closed(): boolean {
    return this.#closing !== undefined;
  }

  async open(): Promise<pg.Client> {
    if (this.closed) throw new Error('the sessions were closed (the work was stopped)');
    const client = await connect(this.#connection, this.#options);
    if (this.closed) {
      await disconnect(client, this.#connection, { cancel: false });
      throw new Error('the sessions were closed (the work was stopped)');
    }
    this.#clients.push(client);
    return client;
  }

  /** Closes every session; with `cancel`, queries they may be running are cancelled on the server first. Idempotent. */
  close(options: { cancel: boolean } = { cancel: true }): Promise<void> {
    this.#closing ??= Promise.all(this.#clients.map((client) => disconnect(client, this.#connection, options))).then(() => undefined);
    return this.#closing;
  }
}
