import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync, zstdCompressSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { majorOfVersion, readDumpHeader } from '../../../../src/engines/postgres/dump-header.ts';
import { findTools, parseToolVersion } from '../../../../src/engines/postgres/postgres-tools.ts';
import { connect } from '../../../../src/engines/postgres/session.ts';
import { runToCompletion } from '../../../../src/pipeline/child-process.ts';
import { startLocalCluster, type StartedLocalCluster } from '../../../../src/sandbox/local-cluster.ts';
import { sandboxUser } from '../../../../src/sandbox/unix-user.ts';
import { silentLogger } from '../../../../src/logger.ts';

/**
 * The headers are those of real dumps: a throwaway PostgreSQL cluster, a
 * small database, and the installed pg_dump writing it in each format. Only
 * the broken files are made by hand (from those dumps where possible).
 */

// A space and a non-ASCII letter: the name travels through the header as UTF-8 bytes with a length.
const DATABASE = 'drill shop ü';

let cluster: StartedLocalCluster;
let scratch: string;
let pgDump: string;
let pgRestore: string;
let serverVersion: string;
let pgDumpVersion: string;
const dumps = { custom: '', uncompressed: '', directory: '', plain: '', plainWithCreate: '' };

async function dump(format: string, output: string, ...extra: string[]): Promise<string> {
  await runToCompletion(pgDump, ['-h', cluster.host, '-p', String(cluster.port), '-U', 'postgres', '-d', DATABASE, `-F${format}`, '-f', output, ...extra]);
  return output;
}

async function scratchFile(name: string, content: Buffer | string): Promise<string> {
  const path = join(scratch, name);
  await writeFile(path, content);
  return path;
}

async function failure(work: Promise<unknown>): Promise<string> {
  const error = await work.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(Error);
  return (error as Error).message;
}

beforeAll(async () => {
  // The newest pg_dump, and a server it can dump (pg_dump must be at least the server's major).
  const dumpTool = (await findTools('pg_dump')).at(-1)!;
  const server = (await findTools('postgres')).filter((found) => found.major <= dumpTool.major).at(-1)!;
  pgDump = dumpTool.path;
  pgRestore = (await findTools('pg_restore', [dumpTool.binDir])).at(-1)!.path;
  pgDumpVersion = /\(PostgreSQL\) (.+)$/m.exec(await runToCompletion(pgDump, ['--version']))![1]!;
  scratch = await mkdtemp(join(tmpdir(), 'firedrill-dump-header-'));
  cluster = await startLocalCluster({
    binDir: server.binDir,
    runAs: await sandboxUser(undefined),
    listen: 'socket',
    owner: { runId: 'test', drill: 'dump-header' },
    logger: silentLogger,
  });
  const admin = await connect(cluster.connection('postgres'));
  try {
    serverVersion = (await admin.query<{ version: string }>("select current_setting('server_version') as version")).rows[0]!.version;
    await admin.query(`create database "${DATABASE}"`);
  } finally {
    await admin.end();
  }
  const client = await connect(cluster.connection(DATABASE));
  try {
    await client.query('create table orders (id int primary key, note text); insert into orders select n, md5(n::text) from generate_series(1, 500) n');
  } finally {
    await client.end();
  }
  dumps.custom = await dump('c', join(scratch, 'nightly.dump'));
  dumps.uncompressed = await dump('c', join(scratch, 'nightly-uncompressed.dump'), '-Z', '0');
  dumps.directory = await dump('d', join(scratch, 'nightly.dir'));
  dumps.plain = await dump('p', join(scratch, 'nightly.sql'));
  dumps.plainWithCreate = await dump('p', join(scratch, 'nightly-create.sql'), '--create');
});

afterAll(async () => {
  await cluster?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('readDumpHeader on real pg_dump output', () => {
  const versions = () => ({
    serverVersion,
    serverMajor: parseToolVersion(`(PostgreSQL) ${serverVersion}`)!.major,
    dumpVersion: pgDumpVersion,
    dumpMajor: parseToolVersion(`(PostgreSQL) ${pgDumpVersion}`)!.major,
  });

  it('reads the server and pg_dump versions, the database and the archive version of a custom-format dump', async () => {
    const listing = await runToCompletion(pgRestore, ['-l', dumps.custom]);
    const header = await readDumpHeader(dumps.custom, 'custom');
    expect(header).toEqual({
      format: 'custom',
      ...versions(),
      database: DATABASE,
      archiveVersion: /Dump Version: (\S+)/.exec(listing)![1],
      compression: 'gzip',
    });
    expect(listing).toContain(`Dumped from database version: ${header.serverVersion}`);
    expect(header.serverMajor).toBe(cluster.serverVersion.split('.').map(Number)[0]);
  });

  it('reports an uncompressed custom-format dump (-Z 0) as compression none', async () => {
    expect(await readDumpHeader(dumps.uncompressed, 'custom')).toMatchObject({ ...versions(), database: DATABASE, compression: 'none' });
  });

  it("reads a directory-format dump's header from its toc.dat", async () => {
    const custom = await readDumpHeader(dumps.custom, 'custom');
    expect(await readDumpHeader(dumps.directory, 'directory')).toEqual({ ...custom, format: 'directory' });
  });

  it("reads the versions of a plain-format dump from its opening comments, and the database's name when it was made with --create", async () => {
    expect(await readDumpHeader(dumps.plain, 'plain')).toEqual({ format: 'plain', ...versions() });
    expect(await readDumpHeader(dumps.plainWithCreate, 'plain')).toEqual({ format: 'plain', ...versions(), database: DATABASE });
  });

  it('returns a plain-format dump without its version comments as a header without versions', async () => {
    const sql = (await readFile(dumps.plain, 'utf8')).replace(/^-- Dumped (from|by) .*\n/gm, '');
    expect(await readDumpHeader(await scratchFile('no-versions.sql', sql), 'plain')).toEqual({ format: 'plain' });
  });
});

describe('readDumpHeader on files that are not what the format says', () => {
  it('says a gzip-compressed custom-format dump looks compressed, and to set compression', async () => {
    const path = await scratchFile('nightly.dump.gz', gzipSync(await readFile(dumps.custom)));
    const message = await failure(readDumpHeader(path, 'custom'));
    expect(message).toContain(path);
    expect(message).toContain('looks compressed with gzip');
    expect(message).toContain('set compression: gzip');
  });

  it('says a zstd-compressed plain-format dump looks compressed with zstd', async () => {
    const path = await scratchFile('nightly.sql.zst', zstdCompressSync(await readFile(dumps.plain)));
    expect(await failure(readDumpHeader(path, 'plain'))).toContain('looks compressed with zstd');
  });

  it('says a file of 3 bytes is truncated', async () => {
    const path = await scratchFile('three-bytes.dump', (await readFile(dumps.custom)).subarray(0, 3));
    expect(await failure(readDumpHeader(path, 'custom'))).toMatch(/three-bytes\.dump is only 3 bytes long.*truncated/);
  });

  it('says a dump cut off inside its header is truncated, and what it was reading', async () => {
    const path = await scratchFile('cut.dump', (await readFile(dumps.custom)).subarray(0, 40));
    expect(await failure(readDumpHeader(path, 'custom'))).toMatch(/cut\.dump ends after 40 bytes, inside the pg_dump archive header \(reading the .+\): the file is truncated/);
  });

  it('says random bytes are not a custom-format archive, and shows what they start with', async () => {
    const bytes = randomBytes(4096);
    bytes[0] = 0; // never by chance a compression magic number
    const path = await scratchFile('random.dump', bytes);
    const message = await failure(readDumpHeader(path, 'custom'));
    expect(message).toContain(`${path} is not a pg_dump custom-format archive (pg_dump -Fc)`);
    expect(message).toContain(`starts with "PGDMP", this one with the bytes 00 ${bytes.subarray(1, 2).toString('hex')}`);
  });

  it('says a plain-format dump given as custom is text, and to set format: plain', async () => {
    expect(await failure(readDumpHeader(dumps.plain, 'custom'))).toMatch(/is not a pg_dump custom-format archive.*set format: plain/);
  });

  it('says a custom-format dump given as plain is an archive, and to set format: custom', async () => {
    expect(await failure(readDumpHeader(dumps.custom, 'plain'))).toMatch(/is not a plain-format dump.*PGDMP.*set format: custom/);
  });

  it("says a directory dump's toc.dat given as custom is read through its directory", async () => {
    expect(await failure(readDumpHeader(join(dumps.directory, 'toc.dat'), 'custom'))).toMatch(/format code 3 .* pass the directory it is in with format: directory/);
  });

  it('says a directory without toc.dat is not a complete directory-format dump', async () => {
    const path = join(scratch, 'half-copied.dir');
    await mkdir(path);
    expect(await failure(readDumpHeader(path, 'directory'))).toContain(`${path} has no toc.dat`);
  });

  it('says a custom-format file given as directory is a file, and to set format: custom', async () => {
    expect(await failure(readDumpHeader(dumps.custom, 'directory'))).toMatch(/is a file \(a pg_dump archive header.*set format: custom/);
  });

  it('names a file that does not exist', async () => {
    const path = join(scratch, 'missing.dump');
    expect(await failure(readDumpHeader(path, 'custom'))).toMatch(new RegExp(`cannot read the custom-format dump ${path}: .*ENOENT`));
  });
});

describe('majorOfVersion', () => {
  it.each([
    ['15.4', 15],
    ['15.18 (Debian 15.18-0+deb12u1)', 15],
    ['18beta1', 18],
    ['9.6.24', 9],
  ])('reads %j as major %i', (version, major) => {
    expect(majorOfVersion(version)).toBe(major);
  });

  it('returns undefined for a version without a number', () => {
    expect(majorOfVersion('unknown')).toBeUndefined();
  });
});
