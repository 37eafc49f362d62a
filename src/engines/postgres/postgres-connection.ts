import type { ClientConfig } from 'pg';
import { readFileSync } from 'node:fs';
import { Secret } from '../../secret.ts';

/**
 * How to reach one PostgreSQL database. The password is a `Secret` and is
 * never part of a URL that firedrill prints or passes on a command line: the
 * node driver gets it in its config object, pg_dump and pg_restore in their
 * own environment.
 */
export interface PostgresConnection {
  /** Host name, IP address, or the directory of a Unix socket. */
  host: string;
  port: number;
  database: string;
  user: string;
  password?: Secret | undefined;
  sslMode?: SslMode | undefined;
  /** CA certificate file for `verify-ca` / `verify-full`. */
  sslRootCert?: string | undefined;
  connectTimeoutMs: number;
}

export const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

const APPLICATION_NAME = 'firedrill';

/** `postgres://backup@db.internal:5432/orders`: never with the password. */
export function describeConnection(connection: PostgresConnection): string {
  const user = encodeURIComponent(connection.user);
  const database = encodeURIComponent(connection.database);
  if (connection.host.startsWith('/')) return `postgres://${user}@/${database}?host=${connection.host}&port=${connection.port}`;
  const host = connection.host.includes(':') ? `[${connection.host}]` : connection.host;
  return `postgres://${user}@${host}:${connection.port}/${database}`;
}

export function withDatabase(connection: PostgresConnection, database: string): PostgresConnection {
  return { ...connection, database };
}

/** Config for the node driver. */
export function clientConfig(connection: PostgresConnection, options: { statementTimeoutMs?: number } = {}): ClientConfig {
  return {
    host: connection.host,
    port: connection.port,
    database: connection.database,
    user: connection.user,
    password: connection.password?.reveal(),
    ssl: driverSsl(connection),
    connectionTimeoutMillis: connection.connectTimeoutMs,
    application_name: APPLICATION_NAME,
    // A peer that vanishes (network partition) is noticed instead of waited on for ever.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    ...(options.statementTimeoutMs ? { statement_timeout: options.statementTimeoutMs } : {}),
  };
}

/**
 * The node driver has no `prefer`/`allow` fallback: it either speaks TLS or
 * not. `require` encrypts without checking the certificate, as libpq does.
 */
function driverSsl(connection: PostgresConnection): ClientConfig['ssl'] {
  switch (connection.sslMode) {
    case 'require':
      return { rejectUnauthorized: false };
    case 'verify-ca':
    case 'verify-full':
      return {
        rejectUnauthorized: true,
        ...(connection.sslRootCert ? { ca: readFileSync(connection.sslRootCert, 'utf8') } : {}),
        ...(connection.sslMode === 'verify-ca' ? { checkServerIdentity: () => undefined } : {}),
      };
    default:
      return false;
  }
}

/**
 * libpq environment for pg_dump, pg_restore and psql. Passing everything by
 * environment keeps the command line free of anything sensitive, and the
 * variables live only in the child's environment, never in firedrill's own.
 */
export function libpqEnvironment(connection: PostgresConnection): Record<string, string> {
  const env: Record<string, string> = {
    PGHOST: connection.host,
    PGPORT: String(connection.port),
    PGDATABASE: connection.database,
    PGUSER: connection.user,
    PGAPPNAME: APPLICATION_NAME,
    PGCONNECT_TIMEOUT: String(Math.max(1, Math.ceil(connection.connectTimeoutMs / 1000))),
  };
  if (connection.password) env.PGPASSWORD = connection.password.reveal();
  if (connection.sslMode) env.PGSSLMODE = connection.sslMode;
  if (connection.sslRootCert) env.PGSSLROOTCERT = connection.sslRootCert;
  return env;
}

export interface ParsedPostgresUrl {
  host?: string | undefined;
  port?: number | undefined;
  database?: string | undefined;
  user?: string | undefined;
  password?: Secret | undefined;
  sslMode?: string | undefined;
  sslRootCert?: string | undefined;
}

/**
 * Reads `postgres://user:password@host:port/database?sslmode=...`. A password
 * in the URL becomes a `Secret` at once, so it is redacted from then on.
 * Throws with a message that never contains the URL itself.
 */
export function parsePostgresUrl(text: string): ParsedPostgresUrl {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error('is not a valid URL (expected postgres://USER@HOST:PORT/DATABASE)');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new Error(`has scheme "${url.protocol.slice(0, -1)}" (expected postgres:// or postgresql://)`);
  }
  const supported = new Set(['host', 'port', 'sslmode', 'sslrootcert']);
  for (const key of url.searchParams.keys()) {
    if (!supported.has(key)) throw new Error(`has unsupported parameter "${key}" (supported: ${[...supported].join(', ')})`);
  }
  const decode = (value: string) => (value ? decodeURIComponent(value) : undefined);
  const portText = url.searchParams.get('port') ?? url.port;
  return {
    host: url.searchParams.get('host') ?? (url.hostname.replace(/^\[(.*)\]$/, '$1') || undefined),
    port: portText ? Number(portText) : undefined,
    database: decode(url.pathname.replace(/^\//, '')),
    user: decode(url.username),
    password: url.password ? Secret.fromValue(decodeURIComponent(url.password), 'source.url') : undefined,
    sslMode: url.searchParams.get('sslmode') ?? undefined,
    sslRootCert: url.searchParams.get('sslrootcert') ?? undefined,
  };
}
