import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatConfigProblem } from '../../../src/errors.ts';
import type { DrillConfig } from '../../../src/config/load.ts';
import type { PostgresConnection } from '../../../src/engines/postgres/postgres-connection.ts';
import { createDrillFolder, type DrillFolder } from './drill-folder.ts';

let folder: DrillFolder;

beforeEach(async () => {
  folder = await createDrillFolder();
});
afterEach(async () => {
  await folder.remove();
});

function connectionOf(drill: DrillConfig | undefined): PostgresConnection {
  return (drill?.source as { connection: PostgresConnection }).connection;
}

const SOURCE_WITH_ENV_PASSWORD = 'source: { type: postgres, url: "postgres://backup@db.internal/orders", password: { env: ORDERS_DB_PASSWORD } }\n';

describe('secrets in drill files', () => {
  it('resolves { env: NAME } from the environment it is given', async () => {
    await folder.write('drills/orders.yaml', SOURCE_WITH_ENV_PASSWORD);

    const loaded = await folder.load({ ORDERS_DB_PASSWORD: 'env-secret-2718' });

    expect(loaded.problems.size).toBe(0);
    expect(connectionOf(loaded.drills[0]).password?.reveal()).toBe('env-secret-2718');
  });

  it('reports a missing environment variable at source.password, naming the variable', async () => {
    await folder.write('drills/orders.yaml', SOURCE_WITH_ENV_PASSWORD);

    expect(await folder.problemLines('orders')).toEqual([
      'drills/orders.yaml: source.password: environment variable ORDERS_DB_PASSWORD is not set (it holds a secret; set it, or use { file: PATH })',
    ]);
  });

  it('never resolves a secret when resolveSecrets is false, so metadata commands run without it', async () => {
    await folder.write('drills/orders.yaml', SOURCE_WITH_ENV_PASSWORD);

    const loaded = await folder.load({}, { resolveSecrets: false });

    expect(loaded.problems.size).toBe(0);
    const password = connectionOf(loaded.drills[0]).password;
    expect(password?.resolved).toBe(false);
    // Only a command that uses it resolves it, and then a missing variable is a config problem that names it.
    expect(() => password?.reveal()).toThrow('env ORDERS_DB_PASSWORD: environment variable ORDERS_DB_PASSWORD is not set');
  });

  it('reads { file: PATH } and drops the trailing newline that `echo secret > file` leaves', async () => {
    const secretFile = await folder.write('secrets/orders-password', 'file-secret-3141\n');
    await folder.write('drills/orders.yaml', `source: { type: postgres, url: "postgres://backup@db/orders", password: { file: "${secretFile}" } }\n`);

    const loaded = await folder.load();

    expect(loaded.problems.size).toBe(0);
    expect(connectionOf(loaded.drills[0]).password?.reveal()).toBe('file-secret-3141');
  });

  it('reports a secret file that cannot be read, naming the file', async () => {
    const missing = join(folder.directory, 'secrets/absent');
    await folder.write('drills/orders.yaml', `source: { type: postgres, url: "postgres://backup@db/orders", password: { file: "${missing}" } }\n`);

    expect(await folder.problemLines('orders')).toEqual([
      `drills/orders.yaml: source.password: cannot read secret file ${missing} (ENOENT); check the path and that firedrill may read it`,
    ]);
  });

  it('rejects a password written inline and does not echo it', async () => {
    await folder.write('drills/orders.yaml', 'source: { type: postgres, url: "postgres://backup@db/orders", password: "inline-secret-1618" }\n');

    const lines = await folder.problemLines('orders');

    expect(lines).toEqual([
      'drills/orders.yaml: source.password: expected a secret reference: { env: NAME } or { file: PATH } (secrets are never written inline), got a string (not shown)',
    ]);
    expect(lines.join('\n')).not.toContain('inline-secret-1618');
  });

  it('never puts a secret value into a problem message, whatever else is wrong in the file', async () => {
    const secretFile = await folder.write('secrets/pw', 'file-secret-5772\n');
    await folder.write('drills/env.yaml', `${SOURCE_WITH_ENV_PASSWORD}backup: { jobs: zero }\nchecks: [{ type: bogus }]\n`);
    await folder.write('drills/file.yaml', `source: { type: postgres, url: "postgres://u@h/d", password: { file: "${secretFile}" }, port: 0 }\n`);
    await folder.write('drills/url.yaml', 'source: { type: postgres, url: "postgres://u:url-secret-6931@h/d?sslmode=sometimes" }\n');
    await folder.write('drills/typo.yaml', 'source: { type: postgres, url: "postgres://u@h/d", passwrd: "typo-secret-4142" }\n');
    await folder.write('drills/mapping.yaml', 'source: { type: postgres, url: "postgres://u@h/d", password: { value: "mapping-secret-1732" } }\n');

    const loaded = await folder.load({ ORDERS_DB_PASSWORD: 'env-secret-1414' });
    const lines = [...loaded.problems.values()].flat().map(formatConfigProblem);

    expect([...loaded.problems.keys()].sort()).toEqual(['env', 'file', 'mapping', 'typo', 'url']);
    for (const secret of ['env-secret-1414', 'file-secret-5772', 'url-secret-6931', 'typo-secret-4142', 'mapping-secret-1732']) {
      expect(lines.join('\n')).not.toContain(secret);
    }
  });

  it('turns a password inside the url into a Secret and reads the rest of the connection from the url', async () => {
    await folder.write('drills/orders.yaml', 'source: { type: postgres, url: "postgres://alice:url-secret-2236@db.example:6543/shop" }\n');

    const loaded = await folder.load();

    expect(loaded.problems.size).toBe(0);
    const connection = connectionOf(loaded.drills[0]);
    expect(connection).toMatchObject({ host: 'db.example', port: 6543, database: 'shop', user: 'alice' });
    expect(String(connection.password)).toBe('[redacted]');
    expect(connection.password?.reveal()).toBe('url-secret-2236');
  });

  it('rejects a password given both in the url and as a key', async () => {
    await folder.write('drills/orders.yaml', 'source: { type: postgres, url: "postgres://alice:url-secret-1123@db/shop", password: { env: PW } }\n');

    expect(await folder.problemLines('orders', { PW: 'env-secret-8813' })).toEqual([
      'drills/orders.yaml: source.password: a password is also given in url; give it in one place only',
    ]);
  });
});
