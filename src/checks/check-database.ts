import pg from 'pg';
import type { CheckDatabase } from '../interfaces.ts';
import type { PostgresConnection } from '../engines/postgres/postgres-connection.ts';
import { SessionGroup } from '../engines/postgres/session.ts';

/**
 * Sessions a check uses on the restored database: each one a READ ONLY
 * transaction with `statement_timeout` set to the check's timeout, so a check
 * can neither change what it verifies nor run for ever. `close()` ends every
 * session, which is also how a check that overran its timeout is stopped.
 */

const TIMESTAMP_WITHOUT_TIME_ZONE = 1114;

/** A `timestamp without time zone` is read as UTC: the node default (local time) depends on where firedrill runs. */
const defaultParser = pg.types.getTypeParser as (oid: number, format: string) => (text: string) => unknown;
const types = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === TIMESTAMP_WITHOUT_TIME_ZONE
      ? (text: string) => new Date(`${text.replace(' ', 'T')}Z`)
      : defaultParser(oid, format ?? 'text')) as typeof pg.types.getTypeParser,
};

export class ReadOnlyDatabase implements CheckDatabase {
  readonly #sessions: SessionGroup;
  readonly #statementTimeoutMs: number;
  #primary: Promise<pg.Client> | undefined;

  constructor(connection: PostgresConnection, statementTimeoutMs: number) {
    this.#sessions = new SessionGroup(connection, { types });
    this.#statementTimeoutMs = statementTimeoutMs;
  }

  async query(sql: string) {
    this.#primary ??= this.#open();
    return runQuery(await this.#primary, sql);
  }

  async parallel<T>(sessions: number, work: (queries: CheckDatabase[]) => Promise<T>): Promise<T> {
    const others = await Promise.all(Array.from({ length: Math.max(0, sessions - 1) }, () => this.#open()));
    const views: CheckDatabase[] = [this, ...others.map((client) => sessionView(client, this))];
    return work(views);
  }

  /** Ends every session; with `cancel`, queries still running (a timeout, an abort) are cancelled on the server. */
  close(options: { cancel: boolean }): Promise<void> {
    return this.#sessions.close(options);
  }

  async #open(): Promise<pg.Client> {
    const client = await this.#sessions.open();
    await client.query('begin transaction read only');
    await client.query(`set local statement_timeout = ${Math.max(1, Math.round(this.#statementTimeoutMs))}`);
    return client;
  }
}

function sessionView(client: pg.Client, owner: ReadOnlyDatabase): CheckDatabase {
  return {
    query: (sql) => runQuery(client, sql),
    parallel: (sessions, work) => owner.parallel(sessions, work),
  };
}

async function runQuery(client: pg.Client, sql: string) {
  // The extended protocol takes exactly one statement: a check cannot slip in a `commit; ...`.
  const result = await client.query({ text: sql, queryMode: 'extended' } as pg.QueryConfig);
  return { rows: result.rows as Record<string, unknown>[], fields: result.fields.map((field) => ({ name: field.name })) };
}
