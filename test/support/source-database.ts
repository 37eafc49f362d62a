import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { silentLogger } from '../../src/logger.ts';
import { canary, plantSecret } from './canaries.ts';
import { findTools } from '../../src/engines/postgres/postgres-tools.ts';
import { startDemoSource, type DemoSource, type SeedSize } from '../../src/demo/demo-source.ts';
import { connect } from '../../src/engines/postgres/session.ts';
import { withDatabase } from '../../src/engines/postgres/postgres-connection.ts';

/**
 * A real PostgreSQL source for a test file: a throwaway cluster on 127.0.0.1
 * with password authentication, seeded with the demo shop. Drill files reach
 * it through SOURCE_URL and SOURCE_PASSWORD; the password is a planted canary.
 */
export async function startSourceDatabase(options: { password?: string; seed?: SeedSize } = {}): Promise<DemoSource & { env: Record<string, string> }> {
  const password = plantSecret(options.password ?? canary('the source password'), 'the source password');
  const source = await startDemoSource({ logger: silentLogger, seed: options.seed ?? { customers: 300, products: 40, orders: 1_200 }, password });
  return { ...source, env: { SOURCE_URL: source.url, SOURCE_PASSWORD: source.password.reveal() } };
}

/** A drill file against that source; `checks` is YAML list items, indented by two spaces. */
export function drillFile(options: { checks?: string; backup?: string; restore?: string; extra?: string } = {}): string {
  return [
    'source:',
    '  type: postgres',
    '  url: ${SOURCE_URL}',
    '  password: { env: SOURCE_PASSWORD }',
    `backup: ${options.backup ?? '{ jobs: 2 }'}`,
    `restore: ${options.restore ?? '{ sandbox: local, jobs: 2 }'}`,
    'checks:',
    options.checks ??
      [
        '  - { name: orders exist, type: sql, query: "select count(*) from orders", expect: { min: 1000 } }',
        '  - { name: nothing lost, type: fingerprint }',
        '  - { name: data is fresh, type: freshness, query: "select max(created_at) from orders" }',
      ].join('\n'),
    'objectives: { rto: 10m, rpo: 26h }',
    options.extra ?? '',
    '',
  ].join('\n');
}

/**
 * A pg_dump stand-in in `directory` for fault injection: `--version` answers
 * as `version` says (the real pg_dump's by default), and a dump runs the
 * shell lines `dump` returns, given the real pg_dump's path.
 */
export async function fakePgDump(directory: string, dump: (realPgDump: string) => string, version?: string): Promise<void> {
  const real = (await findTools('pg_dump')).at(-1)?.path;
  if (!real) throw new Error('no real pg_dump to wrap');
  const versionLine = version ? `echo "pg_dump (PostgreSQL) ${version}"; exit 0` : `exec ${real} --version`;
  await mkdir(directory, { recursive: true });
  await writeFile(join(directory, 'pg_dump'), `#!/bin/sh\nif [ "$1" = "--version" ]; then ${versionLine}; fi\n${dump(real)}\n`);
  await chmod(join(directory, 'pg_dump'), 0o755);
}

/** Creates another database on the source cluster and runs `sql` in it; returns the URL a drill reaches it by. */
export async function createSourceDatabase(source: DemoSource, name: string, sql: string): Promise<string> {
  const admin = await connect(source.cluster.connection('postgres'));
  await admin.query(`create database ${name}`);
  await admin.end();
  const client = await connect(withDatabase(source.connection, name));
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
  return source.url.replace(/\/shop$/, `/${name}`);
}
