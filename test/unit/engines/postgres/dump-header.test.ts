import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync, zstdCompressSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { majorOfVersion, readDumpHeader, readDumpRoles } from '../../../../src/engines/postgres/dump-header.ts';
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
/** A database whose objects belong to, and are granted to, roles other than the superuser. */
const ROLES_DATABASE = 'drill roles';
/** Every role the roles database names, as readDumpRoles sorts them. */
const NEEDED_ROLES = ['Night "Ops" Shift', 'Sales Team', 'analyst', 'auditor', 'prüfer', 'reporting', 'shop_owner'];

let cluster: StartedLocalCluster;
let scratch: string;
let pgDump: string;
let pgRestore: string;
let serverVersion: string;
let pgDumpVersion: string;
const dumps = { custom: '', uncompressed: '', directory: '', plain: '', plainWithCreate: '' };
const roleDumps = { custom: '', directory: '', plain: '', plainWithSetSessionAuthorization: '', plainWithInserts: '' };

async function dump(format: string, output: string, ...extra: string[]): Promise<string> {
  return dumpDatabase(DATABASE, format, output, ...extra);
}

async function dumpDatabase(database: string, format: string, output: string, ...extra: string[]): Promise<string> {
  await runToCompletion(pgDump, ['-h', cluster.host, '-p', String(cluster.port), '-U', 'postgres', '-d', database, `-F${format}`, '-f', output, ...extra]);
  return output;
}

/**
 * An owner, a role with a space and a capital, one with quotes, one with a
 * non-ASCII letter; grants (to a column too, with grant option, and one
 * made by a grantee, which pg_dump writes inside SET SESSION AUTHORIZATION);
 * a default privilege and a policy. "evil" is no role: it only appears in
 * row data, a function body and a comment, where no statement is.
 */
async function createRolesDatabase(): Promise<void> {
  const admin = await connect(cluster.connection('postgres'));
  try {
    for (const role of ['shop_owner', '"Sales Team"', 'reporting', 'auditor', 'analyst', '"Night ""Ops"" Shift"', '"prüfer"']) await admin.query(`create role ${role}`);
    await admin.query(`create database "${ROLES_DATABASE}" owner shop_owner`);
  } finally {
    await admin.end();
  }
  const client = await connect(cluster.connection(ROLES_DATABASE));
  try {
    await client.query(`
      set role shop_owner;
      create schema shop;
      grant usage on schema shop to reporting;
      create table shop.orders (id int primary key, note text, clerk name);
      create table shop.notes (body text);
      insert into shop.notes values
        ('ALTER TABLE shop.orders OWNER TO evil;'), ('GRANT ALL ON TABLE shop.orders TO evil;'), (E'a note\nSET ROLE evil;'), (repeat('a long row ', 200000));
      create function shop.total() returns bigint language sql as 'select count(*) from shop.orders';
      create function shop.grant_reader() returns void language plpgsql as $body$
      begin
      GRANT SELECT ON shop.orders TO evil;
      end $body$;
      comment on table shop.notes is 'GRANT ALL ON shop.notes TO evil;';
      grant select on shop.orders to "Sales Team";
      grant select, update (note) on shop.orders to reporting with grant option;
      revoke delete on shop.orders from shop_owner;
      revoke execute on function shop.total() from public;
      grant execute on function shop.total() to "Sales Team", reporting;
      alter default privileges for role shop_owner in schema shop grant select on tables to analyst;
      alter table shop.orders enable row level security;
      create policy clerks_own on shop.orders for select to "prüfer", "Night ""Ops"" Shift" using (clerk = current_user);
      set role reporting;
      grant select on shop.orders to auditor;
      reset role;
    `);
  } finally {
    await client.end();
  }
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
  await createRolesDatabase();
  roleDumps.custom = await dumpDatabase(ROLES_DATABASE, 'c', join(scratch, 'roles.dump'));
  roleDumps.directory = await dumpDatabase(ROLES_DATABASE, 'd', join(scratch, 'roles.dir'));
  roleDumps.plain = await dumpDatabase(ROLES_DATABASE, 'p', join(scratch, 'roles.sql'));
  roleDumps.plainWithSetSessionAuthorization = await dumpDatabase(ROLES_DATABASE, 'p', join(scratch, 'roles-ssa.sql'), '--use-set-session-authorization');
  roleDumps.plainWithInserts = await dumpDatabase(ROLES_DATABASE, 'p', join(scratch, 'roles-inserts.sql'), '--inserts');
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

describe('readDumpRoles on real pg_dump output', () => {
  it('lists the owner and every role granted to, granting, with default privileges or in a policy, from a custom-format dump', async () => {
    expect(await readDumpRoles(roleDumps.custom, 'custom')).toEqual(NEEDED_ROLES);
  });

  it("lists the same roles from a directory-format dump's toc.dat", async () => {
    expect(await readDumpRoles(roleDumps.directory, 'directory')).toEqual(NEEDED_ROLES);
  });

  it('lists the same roles from a plain-format dump', async () => {
    expect(await readDumpRoles(roleDumps.plain, 'plain')).toEqual(NEEDED_ROLES);
  });

  it("lists the same roles from a plain-format dump made with --use-set-session-authorization, whose owners are in SET SESSION AUTHORIZATION 'x'", async () => {
    expect(await readFile(roleDumps.plainWithSetSessionAuthorization, 'utf8')).toContain("SET SESSION AUTHORIZATION 'shop_owner';");
    expect(await readDumpRoles(roleDumps.plainWithSetSessionAuthorization, 'plain')).toEqual(NEEDED_ROLES);
  });

  it('does not take COPY rows that read like statements (OWNER TO evil;) for statements', async () => {
    // The traps are real: lines of the dump that a line-by-line reader would take for statements.
    const lines = (await readFile(roleDumps.plain, 'utf8')).split('\n').map((line) => line.trim());
    for (const trap of ['ALTER TABLE shop.orders OWNER TO evil;', 'GRANT ALL ON TABLE shop.orders TO evil;', 'GRANT SELECT ON shop.orders TO evil;']) {
      expect(lines.includes(trap), trap).toBe(true);
    }
    expect(await readDumpRoles(roleDumps.plain, 'plain')).not.toContain('evil');
  });

  it('does not take a string literal spanning lines (pg_dump --inserts) for statements', async () => {
    expect((await readFile(roleDumps.plainWithInserts, 'utf8')).includes("\nSET ROLE evil;');\n")).toBe(true);
    expect(await readDumpRoles(roleDumps.plainWithInserts, 'plain')).toEqual(NEEDED_ROLES);
  });

  it('lists the owner of the objects of a dump that grants nothing', async () => {
    expect(await readDumpRoles(dumps.custom, 'custom')).toEqual(['postgres']);
    expect(await readDumpRoles(dumps.plain, 'plain')).toEqual(['postgres']);
  });
});

/** WriteInt and WriteStr of pg_backup_archiver.c, with 4-byte integers. */
function archiveInt(value: number): Buffer {
  const bytes = Buffer.alloc(5);
  bytes[0] = value < 0 ? 1 : 0;
  bytes.writeUInt32LE(Math.abs(value), 1);
  return bytes;
}

function archiveString(value: string | null): Buffer {
  if (value === null) return archiveInt(-1);
  const bytes = Buffer.from(value);
  return Buffer.concat([archiveInt(bytes.length), bytes]);
}

/**
 * A custom-format archive of archive version 1.<minor>, written field by field
 * as WriteHead and WriteToc of PostgreSQL 17 write it (1.16 added relkind
 * before the owner; 1.15 the compression byte in the header). pg_dump 17 is
 * not installed here: this checks the reading of the layouts the source
 * describes, not real output.
 */
function syntheticArchive(minor: number): Buffer {
  const header: Buffer[] = [Buffer.from('PGDMP'), Buffer.from([1, minor, 0, 4, 8, 1])];
  header.push(minor >= 15 ? Buffer.from([0]) : archiveInt(0));
  for (const field of [0, 30, 12, 1, 5, 126, 0]) header.push(archiveInt(field));
  header.push(archiveString('shop'), archiveString('17.2'), archiveString('17.2'));
  const entry = (dumpId: number, desc: string, defn: string, owner: string | null, relkind: number, dependencies: string[]): Buffer[] => [
    archiveInt(dumpId), archiveInt(0), archiveString('1259'), archiveString(String(16384 + dumpId)), archiveString(`tag ${dumpId}`), archiveString(desc),
    archiveInt(1), archiveString(defn), archiveString(''), archiveString(null), archiveString('public'), archiveString(null), archiveString(desc === 'TABLE' ? 'heap' : null),
    ...(minor >= 16 ? [archiveInt(relkind)] : []), archiveString(owner), archiveString('false'), ...dependencies.map(archiveString), archiveString(null),
    Buffer.from([3, 0, 0, 0, 0, 0, 0, 0, 0]),
  ];
  const toc = [
    archiveInt(3),
    ...entry(1, 'STDSTRINGS', "SET standard_conforming_strings = 'on';\n", null, 0, []),
    ...entry(2, 'TABLE', 'CREATE TABLE public.t (a integer);\n', 'olga', 'r'.charCodeAt(0), []),
    ...entry(3, 'ACL', 'GRANT SELECT ON TABLE public.t TO "Sales Team";\n', 'olga', 0, ['2']),
  ];
  return Buffer.concat([...header, ...toc]);
}

describe('readDumpRoles on the table of contents of other archive versions', () => {
  it.each([14, 15, 16])('reads the TOC of archive version 1.%i as PostgreSQL 17 writes it', async (minor) => {
    const path = await scratchFile(`synthetic-1.${minor}.dump`, syntheticArchive(minor));
    expect(await readDumpHeader(path, 'custom')).toMatchObject({ archiveVersion: `1.${minor}-0`, database: 'shop', serverVersion: '17.2' });
    expect(await readDumpRoles(path, 'custom')).toEqual(['Sales Team', 'olga']);
  });

  it('refuses an archive version newer than 1.16, whose TOC layout it cannot know', async () => {
    const bytes = await readFile(roleDumps.custom);
    bytes[6] = 17; // the minor version byte after "PGDMP" and the major
    const message = await failure(readDumpRoles(await scratchFile('future.dump', bytes), 'custom'));
    expect(message).toContain('has pg_dump archive version 1.17-0, newer than the 1.16 (PostgreSQL 17 and 18) whose table of contents firedrill can read');
  });
});

describe('readDumpRoles on files that are not what the format says', () => {
  it('says a custom-format dump cut off inside its table of contents is truncated, and which entry it was reading', async () => {
    const path = await scratchFile('cut-toc.dump', (await readFile(roleDumps.custom)).subarray(0, 600));
    expect(await failure(readDumpRoles(path, 'custom'))).toMatch(/cut-toc\.dump ends inside the table of contents of its pg_dump archive \(entry \d+ of \d+, reading the .+\): the file is truncated/);
  });

  it('says a directory-format dump without toc.dat is not complete, as readDumpHeader does', async () => {
    const path = join(scratch, 'half-copied-roles.dir');
    await mkdir(path);
    expect(await failure(readDumpRoles(path, 'directory'))).toContain(`${path} has no toc.dat`);
  });

  it('says a gzip-compressed plain-format dump looks compressed, and does not read it as SQL', async () => {
    const path = await scratchFile('roles.sql.gz', gzipSync(await readFile(roleDumps.plain)));
    expect(await failure(readDumpRoles(path, 'plain'))).toContain('looks compressed with gzip');
  });

  it('says a plain-format dump given as custom is not an archive', async () => {
    expect(await failure(readDumpRoles(roleDumps.plain, 'custom'))).toMatch(/is not a pg_dump custom-format archive.*set format: plain/);
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
