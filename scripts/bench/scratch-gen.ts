import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { startLocalCluster } from '../../src/sandbox/local-cluster.ts';
import { sandboxUser } from '../../src/sandbox/unix-user.ts';
import { findTools } from '../../src/engines/postgres/postgres-tools.ts';
import { clientConfig } from '../../src/engines/postgres/postgres-connection.ts';
import { Secret } from '../../src/secret.ts';
import { silentLogger } from '../../src/logger.ts';
import { generateDatabase } from './generate.ts';

const size = Number(process.argv[2] ?? 50);
const [server] = (await findTools('postgres')).slice(-1);
const cluster = await startLocalCluster({ binDir: server!.binDir, runAs: await sandboxUser(undefined), listen: 'tcp', superuserPassword: Secret.fromValue(randomBytes(12).toString('hex'), 'x'), owner: { runId: 'x', drill: 'x' }, logger: silentLogger, settings: { wal_level: 'minimal', max_wal_senders: '0', max_wal_size: '8GB', shared_buffers: '256MB' } });
try {
  const admin = new pg.Client(clientConfig(cluster.connection('postgres')));
  await admin.connect(); await admin.query('create database bench'); await admin.end();
  const result = await generateDatabase(clientConfig(cluster.connection('bench')), size, { sessions: 2, progress: (m) => console.error(m) });
  console.log(JSON.stringify(result));
  const c = new pg.Client(clientConfig(cluster.connection('bench'))); await c.connect();
  console.log((await c.query(`select relname, pg_size_pretty(pg_total_relation_size(oid)) total, pg_total_relation_size(oid) b, pg_size_pretty(pg_relation_size(oid)) heap from pg_class where relkind='r' and relnamespace='public'::regnamespace order by 3 desc`)).rows);
  console.log((await c.query(`select left(body, 200) b, length(body), length(attachment) from documents limit 3`)).rows);
  console.log((await c.query(`select * from events limit 2`)).rows);
  console.log((await c.query(`select * from customers limit 2`)).rows);
  await c.end();
} finally { await cluster.stop(); }
