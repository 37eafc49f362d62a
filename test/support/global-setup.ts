import { spawnSync } from 'node:child_process';
import { findTools } from '../../src/engines/postgres/postgres-tools.ts';

/**
 * Before any test: the CLI is built (end-to-end tests run dist/cli/bin.js as a
 * user would), and PostgreSQL server binaries exist. A missing prerequisite
 * fails the run loudly; nothing is skipped.
 */
export default async function setup(): Promise<void> {
  // The build users run (npm ci runs it as `prepare`): what the tests run is what they get.
  const build = spawnSync('npm', ['run', 'build', '--silent'], { stdio: 'inherit' });
  if (build.status !== 0) throw new Error('building dist/ failed (npm run build)');
  const servers = await findTools('postgres');
  const dumps = await findTools('pg_dump');
  if (servers.length === 0 || dumps.length === 0) {
    throw new Error('the tests need PostgreSQL server and client binaries (postgres, initdb, pg_dump, pg_restore); install them, e.g. apt-get install postgresql');
  }
}
