import { spawnSync } from 'node:child_process';
import { findTools } from '../../src/engines/postgres/postgres-tools.ts';

/**
 * Before any test: the CLI is built (end-to-end tests run dist/cli/bin.js as a
 * user would), and PostgreSQL server binaries exist. A missing prerequisite
 * fails the run loudly; nothing is skipped.
 */
export default async function setup(): Promise<void> {
  const build = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
  if (build.status !== 0) throw new Error('building dist/ failed (tsc -p tsconfig.build.json)');
  const servers = await findTools('postgres');
  const dumps = await findTools('pg_dump');
  if (servers.length === 0 || dumps.length === 0) {
    throw new Error('the tests need PostgreSQL server and client binaries (postgres, initdb, pg_dump, pg_restore); install them, e.g. apt-get install postgresql');
  }
}
