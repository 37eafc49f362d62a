import { z } from 'zod';
import { durationSchema, secretSchema } from '../../config/common.ts';
import { parsePostgresUrl, SSL_MODES, type PostgresConnection, type SslMode } from './postgres-connection.ts';

/** The `source: { type: postgres, ... }` block of a drill. */
export const postgresSourceSchema = z
  .strictObject({
    type: z.literal('postgres').describe('A PostgreSQL database, backed up with pg_dump.'),
    url: z
      .string()
      .optional()
      .describe(
        'Connection URL, postgres://USER@HOST:PORT/DATABASE (parameters: sslmode, sslrootcert, host, port). ' +
          'A password in the URL is accepted and redacted, but prefer `password` with a secret reference.',
      ),
    host: z.string().min(1).optional().describe('Host name, address, or Unix socket directory (instead of `url`).'),
    port: z.int().min(1).max(65535).optional().describe('Port. (Default: 5432)'),
    database: z.string().min(1).optional().describe('Database to back up (instead of `url`).'),
    user: z.string().min(1).optional().describe('Role to connect as; it needs to read every table pg_dump dumps.'),
    password: secretSchema.optional().describe('Password, as { env: NAME } or { file: PATH }.'),
    sslmode: z.enum(SSL_MODES).optional().describe('TLS mode, as in libpq. (Default: libpq\'s "prefer" for pg_dump, no TLS for firedrill\'s own queries)'),
    connectTimeout: durationSchema('How long to wait for a connection. (Default: 10s)').prefault('10s'),
  })
  .transform((source, context) => {
    let fromUrl: ReturnType<typeof parsePostgresUrl> = {};
    if (source.url !== undefined) {
      try {
        fromUrl = parsePostgresUrl(source.url);
      } catch (error) {
        context.addIssue({ code: 'custom', path: ['url'], message: `${(error as Error).message}` });
        return z.NEVER;
      }
      for (const key of ['host', 'database', 'user'] as const) {
        if (source[key] !== undefined && fromUrl[key] !== undefined) {
          context.addIssue({ code: 'custom', path: [key], message: `is also given in url; give it in one place only` });
        }
      }
      if (fromUrl.password && source.password) {
        context.addIssue({ code: 'custom', path: ['password'], message: 'a password is also given in url; give it in one place only' });
      }
    }
    const sslMode = source.sslmode ?? fromUrl.sslMode;
    if (sslMode !== undefined && !SSL_MODES.includes(sslMode as SslMode)) {
      context.addIssue({ code: 'custom', path: ['url'], message: `has sslmode "${sslMode}" (expected one of: ${SSL_MODES.join(', ')})` });
    }
    const connection = {
      host: source.host ?? fromUrl.host,
      port: source.port ?? fromUrl.port ?? 5432,
      database: source.database ?? fromUrl.database,
      user: source.user ?? fromUrl.user,
      password: source.password ?? fromUrl.password,
      sslMode: sslMode as SslMode | undefined,
      sslRootCert: fromUrl.sslRootCert,
      connectTimeoutMs: source.connectTimeout,
    };
    const where = source.url !== undefined ? 'in url or as a key' : 'as a key or in url';
    for (const key of ['host', 'database', 'user'] as const) {
      if (connection[key] === undefined) context.addIssue({ code: 'custom', path: [key], message: `is required (${where})` });
    }
    if (!Number.isInteger(connection.port) || connection.port < 1 || connection.port > 65535) {
      context.addIssue({ code: 'custom', path: ['url'], message: 'has an invalid port' });
    }
    return { type: source.type, connection: connection as PostgresConnection };
  });

export type PostgresSource = z.output<typeof postgresSourceSchema>;
