import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ageKeygen } from '../support/canaries.ts';
import { s3RepositoryYaml, startS3Peer, type S3Peer } from '../support/s3.ts';
import { createSourceDatabase, drillFile } from '../support/source-database.ts';
import { useSourceDatabase } from '../support/lifecycle.ts';
import { listFiles, processesMentioning } from '../support/workspace.ts';
import { findTools } from '../../src/engines/postgres/postgres-tools.ts';
import { connect } from '../../src/engines/postgres/session.ts';
import { withDatabase } from '../../src/engines/postgres/postgres-connection.ts';
import type { Report } from '../../src/report/report.ts';
import type { Manifest } from '../../src/repository/manifest.ts';

/**
 * Drills through an S3 repository on a real S3 protocol peer (s3rver on
 * 127.0.0.1), compressed with zstd and encrypted with age, and what happens
 * when the stored bytes, the key or the peer itself go wrong.
 */

const context = useSourceDatabase();
let peer: S3Peer;
let s3: S3Client;
let identity: { key: string; recipient: string };
let other: { key: string; recipient: string };

beforeAll(async () => {
  peer = await startS3Peer();
  s3 = new S3Client(peer.clientConfig);
  identity = ageKeygen();
  other = ageKeygen();
});
afterAll(async () => {
  s3?.destroy();
  await peer?.close();
});

function runnerConfig(options: { recipient?: string; extra?: string; prefix?: string } = {}): string {
  return [
    'repositories:',
    ...s3RepositoryYaml({ name: 'offsite', bucket: 'backups', prefix: options.prefix ?? 'firedrill/', recipient: options.recipient ?? identity.recipient }),
    options.extra ?? '',
    '',
  ].join('\n');
}

async function prepare(options: { recipient?: string; key?: string; drill?: string; extra?: string; prefix?: string } = {}): Promise<Record<string, string>> {
  await context.workspace.writeFile('config/firedrill.yaml', runnerConfig(options));
  await context.workspace.writeFile('age-key.txt', options.key ?? identity.key);
  await context.workspace.writeFile('drills/orders.yaml', options.drill ?? drillFile());
  return { S3_ENDPOINT: peer.endpoint, S3_ACCESS_KEY_ID: peer.accessKeyId, S3_SECRET_ACCESS_KEY: peer.secretAccessKey };
}

async function keys(prefix: string): Promise<string[]> {
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: peer.bucket, Prefix: prefix }));
  return (listed.Contents ?? []).map((object) => object.Key as string).sort();
}

async function download(key: string): Promise<Buffer> {
  const response = await s3.send(new GetObjectCommand({ Bucket: peer.bucket, Key: key }));
  return Buffer.from(await (response.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
}

async function manifestOf(report: Report): Promise<Manifest> {
  return JSON.parse((await download(`firedrill/orders/${report.backup?.id}/manifest.json`)).toString('utf8')) as Manifest;
}

describe('an s3 repository with zstd and age', () => {
  it('backs up, restores and verifies a drill through S3, storing only compressed, encrypted bytes and the manifest', async () => {
    const env = await prepare();
    const result = await context.workspace.run(['run', 'orders', '--json'], env);
    expect(result.stderr).not.toContain('"level":50');
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as Report;
    expect(report.status).toBe('passed');
    expect(report.backup?.repository).toBe('offsite');

    const backupId = report.backup?.id as string;
    expect(await keys(`firedrill/orders/${backupId}/`)).toEqual([`firedrill/orders/${backupId}/manifest.json`, `firedrill/orders/${backupId}/source.pgdump.zst.age`]);
    const manifest = await manifestOf(report);
    expect(manifest.objects[0]).toMatchObject({ name: 'source.pgdump.zst.age', compression: 'zstd', encryption: { format: 'age', recipients: [identity.recipient] } });
    const stored = await download(`firedrill/orders/${backupId}/source.pgdump.zst.age`);
    expect(stored.subarray(0, 21).toString('latin1')).toBe('age-encryption.org/v1');
    expect(stored.length).toBe(manifest.objects[0]?.sizeBytes);
    // The run's result is kept beside the backups, for retention and history.
    expect(await keys('firedrill/orders/reports/')).toEqual([`firedrill/orders/reports/${report.runId}.json`]);
    expect(await peer.openUploads()).toEqual([]);
  });

  it('stores a backup that the Debian age and zstd binaries and pg_restore restore by hand', async () => {
    const env = await prepare();
    const result = await context.workspace.run(['run', 'orders', '--json'], env);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as Report;
    const stored = join(context.workspace.directory, 'downloaded.pgdump.zst.age');
    await writeFile(stored, await download(`firedrill/orders/${report.backup?.id}/source.pgdump.zst.age`));

    // age -d -i age-key.txt downloaded | zstd -d | pg_restore --dbname=by_hand
    const target = await createSourceDatabase(context.source, 'by_hand', 'select 1');
    const pgRestore = (await findTools('pg_restore')).at(-1)?.path as string;
    const url = new URL(target);
    await pipeProcesses([
      ['age', ['-d', '-i', join(context.workspace.directory, 'age-key.txt'), stored]],
      ['zstd', ['-d', '-q', '-c']],
      [pgRestore, ['--no-owner', '--exit-on-error', `--host=${url.hostname}`, `--port=${url.port}`, `--username=${decodeURIComponent(url.username)}`, '--dbname=by_hand']],
    ], { PGPASSWORD: context.source.password.reveal() });
    const client = await connect(withDatabase(context.source.connection, 'by_hand'));
    try {
      expect((await client.query<{ count: string }>('select count(*) from orders')).rows[0]?.count).toBe('1200');
    } finally {
      await client.end();
    }
  });

  it('fails the drill with a clear message when the identity is not one the backup was encrypted to', async () => {
    // Backups encrypted to `other`; the identity configured for restores is ours.
    let env = await prepare({ recipient: other.recipient, key: other.key });
    expect((await context.workspace.run(['run', 'orders'], env)).code).toBe(0);
    env = await prepare({ recipient: other.recipient, key: identity.key, extra: '' });
    // The preflight refuses backups this configuration could not restore, before any dump.
    const refused = await context.workspace.run(['run', 'orders', '--json'], env);
    expect(refused.code).toBe(2);
    expect((JSON.parse(refused.stdout) as Report).error?.message).toContain('is not among encryption.recipients');

    const result = await context.workspace.run(['run', 'orders', '--from-backup', 'latest', '--json'], env);
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout) as Report;
    expect(report.status).toBe('failed');
    expect(report.error?.message).toContain(`the identity from file age-key.txt (${identity.recipient}) is not one it was encrypted to (${other.recipient})`);
    expect(report.error?.message).toContain('Set encryption.identity of repository "offsite"');
  });

  it('reports an integrity failure for a stored object that was modified or truncated, and restores nothing', async () => {
    const env = await prepare();
    const first = JSON.parse((await context.workspace.run(['run', 'orders', '--json'], env)).stdout) as Report;
    const key = `firedrill/orders/${first.backup?.id}/source.pgdump.zst.age`;
    const original = await download(key);

    const flipped = Buffer.from(original);
    const middle = Math.floor(flipped.length / 2);
    flipped[middle] = (flipped[middle] ?? 0) ^ 0x01;
    await s3.send(new PutObjectCommand({ Bucket: peer.bucket, Key: key, Body: flipped }));
    const modified = JSON.parse((await context.workspace.run(['run', 'orders', '--from-backup', first.backup?.id as string, '--json'], env)).stdout) as Report;
    expect(modified.status).toBe('failed');
    expect(modified.error?.kind).toBe('integrity');
    expect(modified.phases.map((phase) => phase.name)).not.toContain('restore.load');

    await s3.send(new PutObjectCommand({ Bucket: peer.bucket, Key: key, Body: original.subarray(0, original.length - 100) }));
    const truncated = JSON.parse((await context.workspace.run(['run', 'orders', '--from-backup', first.backup?.id as string, '--json'], env)).stdout) as Report;
    expect(truncated.status).toBe('failed');
    expect(truncated.error?.message).toContain(`stored ${original.length - 100} bytes`);
    expect(truncated.error?.message).toContain(`manifest recorded ${original.length} bytes`);

    // History lives with the backups: without this machine's reports, the bucket still has these three runs (and earlier tests').
    await rm(join(context.workspace.directory, 'var/reports'), { recursive: true, force: true });
    const history = JSON.parse((await context.workspace.run(['history', 'orders', '--json', '--last', '3'], env)).stdout) as { runs: { runId: string; status: string }[] };
    expect(history.runs).toEqual([
      expect.objectContaining({ runId: truncated.runId, status: 'failed' }),
      expect.objectContaining({ runId: modified.runId, status: 'failed' }),
      expect.objectContaining({ runId: first.runId, status: 'passed' }),
    ]);
    const rendered = await context.workspace.run(['report', modified.runId, '--out', '-'], env);
    expect(rendered.code, rendered.stderr).toBe(0);
    expect(rendered.stdout).toContain('data-status="failed"');
  });

  it('never shows the age identity or the S3 secret key: not in trace logs, reports, stored objects or any command line', async () => {
    // s3rver takes any secret key (it does not check signatures): a planted one is used for real here.
    const canary = `canary-${Math.random().toString(36).slice(2)}-do-not-print`;
    const env = { ...(await prepare()), S3_SECRET_ACCESS_KEY: canary };
    const secretKey = identity.key.split('\n').find((line) => line.startsWith('AGE-SECRET-KEY-')) as string;
    const running = context.workspace.start(['--log-level', 'trace', 'run', 'orders', '--json'], env);
    const commandLines: string[] = [];
    while (running.child.exitCode === null) {
      commandLines.push(...(await processesMentioning(secretKey)), ...(await processesMentioning(canary)));
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const result = await running.result;
    expect(result.code).toBe(0);
    expect(commandLines).toEqual([]);
    const files = await listFiles(join(context.workspace.directory, 'var'));
    const stored = await Promise.all((await keys('firedrill/')).map(async (key) => (await download(key)).toString('latin1')));
    const everything = [result.stdout, result.stderr, ...(await Promise.all(files.map((file) => readFile(file, 'latin1')))), ...stored].join('\n');
    expect(everything).not.toContain(secretKey);
    expect(everything).not.toContain(canary);
  });

});

describe('a drill of backups made elsewhere (backup.existing)', () => {
  function existingConfig(): string {
    return [
      'repositories:',
      '  nightly:',
      '    type: s3',
      '    bucket: backups',
      '    endpoint: ${S3_ENDPOINT}',
      '    forcePathStyle: true',
      '    accessKeyId: { env: S3_ACCESS_KEY_ID }',
      '    secretAccessKey: { env: S3_SECRET_ACCESS_KEY }',
      '    checksums: when_required',
      '',
    ].join('\n');
  }

  function existingDrill(existing: string, checks = ''): string {
    return [
      `backup: { existing: ${existing} }`,
      'restore: { sandbox: local, jobs: 2 }',
      'checks:',
      '  - { name: orders exist, type: sql, query: "select count(*) from orders", expect: { equals: 1200 } }',
      '  - { name: restored inventory, type: fingerprint }',
      checks,
      'objectives: { rpo: 1h }',
      '',
    ].join('\n');
  }

  async function dumpSource(format: 'plain' | 'directory', path: string): Promise<void> {
    const pgDump = (await findTools('pg_dump')).at(-1)?.path as string;
    const url = new URL(context.source.url);
    const args = [`--format=${format}`, `--host=${url.hostname}`, `--port=${url.port}`, `--username=${decodeURIComponent(url.username)}`, `--file=${path}`, 'shop'];
    await pipeProcesses([[pgDump, args]], { PGPASSWORD: context.source.password.reveal() });
  }

  it('drills a plain pg_dump | gzip uploaded by someone else, picking the newest match', async () => {
    const sql = join(context.workspace.directory, 'shop.sql');
    await dumpSource('plain', sql);
    await pipeProcesses([['gzip', ['-k', '-f', sql]]], {});
    const gzipped = await readFile(`${sql}.gz`);
    // An older object that is not a dump at all: latest must not pick it.
    await s3.send(new PutObjectCommand({ Bucket: peer.bucket, Key: 'nightly/shop-2026-11-24.sql.gz', Body: Buffer.from('not a dump') }));
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await s3.send(new PutObjectCommand({ Bucket: peer.bucket, Key: 'nightly/shop-2026-11-25.sql.gz', Body: gzipped }));
    await s3.send(new PutObjectCommand({ Bucket: peer.bucket, Key: 'nightly/other-2026-11-25.sql.gz', Body: Buffer.from('another database') }));
    await context.workspace.writeFile('config/firedrill.yaml', existingConfig());
    await context.workspace.writeFile('drills/shop.yaml', existingDrill('{ prefix: nightly/, pattern: "shop-*.sql.gz", format: plain }'));
    const env = { S3_ENDPOINT: peer.endpoint, S3_ACCESS_KEY_ID: peer.accessKeyId, S3_SECRET_ACCESS_KEY: peer.secretAccessKey };

    const listed = await context.workspace.run(['backups', 'shop'], env);
    expect(listed.stdout).toContain('nightly/shop-2026-11-25.sql.gz');
    expect(listed.stdout).not.toContain('other-');

    const result = await context.workspace.run(['run', 'shop', '--json'], env);
    expect(result.stderr).not.toContain('"level":50');
    const report = JSON.parse(result.stdout) as Report;
    expect(report.status).toBe('passed');
    expect(result.code).toBe(0);
    expect(report.backup).toMatchObject({ id: 'nightly/shop-2026-11-25.sql.gz', repository: 'nightly', reused: true, sizeBytes: gzipped.length });
    expect(report.backup?.objects[0]?.sha256).toBe(createHash('sha256').update(gzipped).digest('hex'));
    expect(report.backup?.targets[0]).toMatchObject({ tool: 'pg_dump (made elsewhere)', serverVersion: expect.stringMatching(/^\d+\.\d+/) });
    expect(report.checks.find((check) => check.name === 'restored inventory')?.message).toMatch(/^no source fingerprint \(backup made elsewhere\): restored 4 tables/);
    // The object was uploaded seconds ago: its age is the backup's age.
    expect(report.measured.backupAgeSeconds).toBeLessThan(120);
  });

  it('drills the newest with --from-backup latest and one by its key, whatever select says, and names what is there when nothing matches', async () => {
    const sql = join(context.workspace.directory, 'shop.sql');
    await dumpSource('plain', sql);
    const dump = await readFile(sql);
    for (const day of ['01', '02', '03']) {
      await s3.send(new PutObjectCommand({ Bucket: peer.bucket, Key: `points/shop-2026-11-${day}.sql`, Body: dump }));
      await new Promise((resolve) => setTimeout(resolve, 1100));
    }
    await context.workspace.writeFile('config/firedrill.yaml', existingConfig());
    await context.workspace.writeFile('drills/shop.yaml', existingDrill('{ prefix: points/, pattern: "shop-*.sql", format: plain, select: oldest }'));
    const env = { S3_ENDPOINT: peer.endpoint, S3_ACCESS_KEY_ID: peer.accessKeyId, S3_SECRET_ACCESS_KEY: peer.secretAccessKey };

    const byRule = JSON.parse((await context.workspace.run(['run', 'shop', '--json'], env)).stdout) as Report;
    expect(byRule.backup?.id).toBe('points/shop-2026-11-01.sql');
    const latest = JSON.parse((await context.workspace.run(['run', 'shop', '--from-backup', 'latest', '--json'], env)).stdout) as Report;
    expect(latest.backup?.id).toBe('points/shop-2026-11-03.sql');
    const byKey = await context.workspace.run(['run', 'shop', '--from-backup', 'points/shop-2026-11-02.sql', '--json'], env);
    expect(byKey.code).toBe(0);
    expect((JSON.parse(byKey.stdout) as Report).backup?.id).toBe('points/shop-2026-11-02.sql');

    await context.workspace.writeFile('drills/shop.yaml', existingDrill('{ prefix: points/, pattern: "orders-*.sql", format: plain }'));
    const nothing = await context.workspace.run(['run', 'shop'], env);
    expect(nothing.code).toBe(2);
    expect(nothing.stderr + nothing.stdout).toContain('backup.existing.pattern: matches no object in s3 repository "nightly"');
    expect(nothing.stderr + nothing.stdout).toContain('under "points/" there are 3 object(s), e.g. points/shop-2026-11-01.sql');
  });

  it('refuses a tar whose entries would leave the target directory, failing the drill without writing outside it', async () => {
    const crafted = join(context.workspace.directory, 'crafted');
    await pipeProcesses([['sh', ['-c', `mkdir -p ${crafted}/dump && echo x > ${crafted}/dump/toc.dat && ln -s /etc/passwd ${crafted}/dump/link.dat`]]], {});
    await pipeProcesses([['tar', ['-C', crafted, '-cf', join(crafted, 'dump.tar'), 'dump']]], {});
    await s3.send(new PutObjectCommand({ Bucket: peer.bucket, Key: 'crafted/dump.tar', Body: await readFile(join(crafted, 'dump.tar')) }));
    await context.workspace.writeFile('config/firedrill.yaml', existingConfig());
    await context.workspace.writeFile('drills/shop.yaml', existingDrill('{ prefix: crafted/, format: directory-tar }'));
    const env = { S3_ENDPOINT: peer.endpoint, S3_ACCESS_KEY_ID: peer.accessKeyId, S3_SECRET_ACCESS_KEY: peer.secretAccessKey };
    const result = await context.workspace.run(['run', 'shop', '--json'], env);
    expect(result.stderr).not.toContain('internal error');
    const report = JSON.parse(result.stdout) as Report;
    expect(report.status).toBe('failed');
    expect(report.error?.message).toContain('holds "dump/link.dat" (symlink), which no pg_dump directory has; refusing to unpack it');
  });

  it('drills an age-encrypted, zstd-compressed tar of a directory-format dump, and says so when the identity is missing', async () => {
    const directory = join(context.workspace.directory, 'shop.dir');
    await dumpSource('directory', directory);
    const encrypted = join(context.workspace.directory, 'shop.tar.zst.age');
    await pipeProcesses(
      [
        ['tar', ['-C', context.workspace.directory, '-cf', '-', 'shop.dir']],
        ['zstd', ['-q', '-c']],
        ['age', ['-r', identity.recipient, '-o', encrypted]],
      ],
      {},
    );
    await s3.send(new PutObjectCommand({ Bucket: peer.bucket, Key: 'weekly/shop.tar.zst.age', Body: await readFile(encrypted) }));
    await context.workspace.writeFile('config/firedrill.yaml', existingConfig());
    await context.workspace.writeFile('age-key.txt', identity.key);
    const env = { S3_ENDPOINT: peer.endpoint, S3_ACCESS_KEY_ID: peer.accessKeyId, S3_SECRET_ACCESS_KEY: peer.secretAccessKey };

    await context.workspace.writeFile('drills/shop.yaml', existingDrill('{ prefix: weekly/, format: directory-tar }'));
    const missing = JSON.parse((await context.workspace.run(['run', 'shop', '--json'], env)).stdout) as Report;
    expect(missing.status).toBe('error');
    expect(missing.error?.message).toContain('backup.existing.encryption.identity: is needed: weekly/shop.tar.zst.age in s3 repository "nightly"');

    await context.workspace.writeFile('drills/shop.yaml', existingDrill('{ prefix: weekly/, format: directory-tar, encryption: { identity: { file: age-key.txt } } }'));
    const result = await context.workspace.run(['run', 'shop', '--json'], env);
    const report = JSON.parse(result.stdout) as Report;
    expect(report.status).toBe('passed');
    expect(report.checks.map((check) => check.status)).toEqual(['passed', 'passed']);
  });
});


/** Runs commands as a shell pipeline would (argument arrays, no shell), failing on any non-zero exit. */
async function pipeProcesses(commands: [string, string[]][], env: Record<string, string>): Promise<void> {
  const children = commands.map(([command, args]) => spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } }));
  children.forEach((child, index) => {
    const next = children[index + 1];
    if (next) child.stdout.pipe(next.stdin);
    else child.stdout.resume();
  });
  children[0]?.stdin.end();
  const statuses = await Promise.all(
    children.map(
      (child, index) =>
        new Promise<string | undefined>((resolve) => {
          let stderr = '';
          child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
          child.on('close', (code) => resolve(code === 0 ? undefined : `${commands[index]?.[0]} exited with ${code}: ${stderr}`));
        }),
    ),
  );
  const failures = statuses.filter(Boolean);
  if (failures.length > 0) throw new Error(failures.join('\n'));
}


