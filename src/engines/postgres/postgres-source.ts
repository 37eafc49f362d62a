import { z } from 'zod';
import { secretSchema, timeoutSchema } from '../../config/common.ts';
import { parsePostgresUrl, SSL_MODES, type ParsedPostgresUrl, type PostgresConnection, type SslMode } from './postgres-connection.ts';

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
    connectTimeout: timeoutSchema('How long to wait for a connection. (Default: 10s)').prefault('10s'),
  })
  .superRefine(
    (source, context) => {
      // Runs even when a field itself failed (`when`), so every problem in the block is reported at once;
      // a field may therefore hold anything here.
      let fromUrl: ParsedPostgresUrl = {};
      if (typeof source.url === 'string') {
        try {
          fromUrl = parsePostgresUrl(source.url);
        } catch (error) {
          context.addIssue({ code: 'custom', path: ['url'], message: (error as Error).message });
          return;
        }
      }
      for (const key of ['host', 'database', 'user'] as const) {
        if (source[key] !== undefined && fromUrl[key] !== undefined) {
          context.addIssue({ code: 'custom', path: [key], message: 'is also given in url; give it in one place only' });
        }
        if (source[key] === undefined && fromUrl[key] === undefined) {
          const where = source.url !== undefined ? 'in url or as a key' : 'as a key or in url';
          context.addIssue({ code: 'custom', path: [key], message: `is required (${where})` });
        }
      }
      if (fromUrl.password && source.password !== undefined) {
        context.addIssue({ code: 'custom', path: ['password'], message: 'a password is also given in url; give it in one place only' });
      }
      if (fromUrl.sslMode !== undefined && !SSL_MODES.includes(fromUrl.sslMode as SslMode)) {
        context.addIssue({ code: 'custom', path: ['url'], message: `has sslmode "${fromUrl.sslMode}" (expected one of: ${SSL_MODES.join(', ')})` });
      }
      if (fromUrl.port !== undefined && !(Number.isInteger(fromUrl.port) && fromUrl.port >= 1 && fromUrl.port <= 65535)) {
        context.addIssue({ code: 'custom', path: ['url'], message: 'has an invalid port' });
      }
    },
    { when: () => true },
  )
  .transform((source) => {
    // Only reached when everything above held.
    const fromUrl = source.url === undefined ? {} : parsePostgresUrl(source.url);
    const connection: PostgresConnection = {
      host: (source.host ?? fromUrl.host) as string,
      port: source.port ?? fromUrl.port ?? 5432,
      database: (source.database ?? fromUrl.database) as string,
      user: (source.user ?? fromUrl.user) as string,
      password: source.password ?? fromUrl.password,
      sslMode: source.sslmode ?? (fromUrl.sslMode as SslMode | undefined),
      sslRootCert: fromUrl.sslRootCert,
      connectTimeoutMs: source.connectTimeout,
    };
    return { type: source.type, connection };
  });

export type PostgresSource = z.output<typeof postgresSourceSchema>;
