import { createReadStream } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { errorMessage } from '../../errors.ts';
import { archiveVersion, archiveVersionText, readArchiveHeader, type ArchiveLayout } from './archive-header.ts';
import type { DumpFormat } from './dump-header.ts';
import { readPlainStart } from './file-start.ts';
import { SqlRoleScanner } from './sql-role-scanner.ts';
import { TocReader } from './toc-reader.ts';

/** The newest archive version whose TOC layout firedrill knows: 1.16, written by PostgreSQL 17 and 18. */
const NEWEST_TOC_VERSION = archiveVersion(1, 16, 255);
/**
 * Entries whose SQL names roles beyond their owner. STDSTRINGS says how the
 * SQL of the others quotes strings; DATABASE PROPERTIES holds
 * `ALTER ROLE x IN DATABASE ...`; ACL LANGUAGE is the ACL of archives before 1.11.
 */
const ROLE_BEARING_ENTRIES = new Set(['ACL', 'ACL LANGUAGE', 'DEFAULT ACL', 'POLICY', 'USER MAPPING', 'DATABASE PROPERTIES', 'STDSTRINGS']);
/** K_OFFSET_POS_NOT_SET, K_OFFSET_POS_SET and K_OFFSET_NO_DATA in pg_backup_archiver.h. */
const DATA_OFFSET_FLAGS = new Set([1, 2, 3]);
const PLAIN_CHUNK_BYTES = 64 * 1024;

/**
 * The roles a dump names, sorted and without duplicates: the owners of its
 * objects and every role its privileges, default privileges and row-security
 * policies grant to, revoke from or are granted by. A sandbox server has only
 * its superuser; restoring an object owned by, or granted to, a role it lacks
 * fails, so the roles are created (NOLOGIN) before the restore.
 *
 * Names are as PostgreSQL spells them, unquoted (`"Sales Team"` gives
 * `Sales Team`, `""` gives `"`), decoded as UTF-8; PUBLIC is not a role and
 * is left out. The superuser the dump ran as (often `postgres`) is in the
 * list when it owns something: the caller skips the roles that exist.
 *
 * custom and directory: the archive's table of contents (TOC) is read after
 * its header, entry by entry; the data blocks that follow it in a custom
 * archive are never read. Its DATABASE entry counts too: its owner matters to
 * pg_restore --create. plain: the SQL is read through once, as psql would
 * split it into statements (quotes, dollar quotes, comments, COPY data are
 * skipped, never taken for statements). Memory stays bounded whatever the
 * dump's size.
 */
export async function readDumpRoles(path: string, format: DumpFormat): Promise<string[]> {
  const roles = new Set<string>();
  if (format === 'plain') {
    await readPlainStart(path); // readDumpHeader's checks: SQL text, neither compressed nor an archive
    await scanPlainRoles(path, roles);
  } else {
    const { filePath, layout } = await readArchiveHeader(path, format);
    await scanArchiveRoles(filePath, format, layout, roles);
  }
  return [...roles].sort((left, right) => (left < right ? -1 : left > right ? 1 : 0));
}

/**
 * ReadToc in pg_backup_archiver.c, field by field: the entry count, then per
 * entry its dump id, whether it had data, the catalog ids (as strings), tag,
 * type (`desc`), section (1.11+), definition, drop statement, COPY statement
 * (1.3+), schema (1.6+), tablespace (1.10+), table access method (1.14+),
 * relkind (1.16+, an int), owner, the obsolete WITH OIDS flag (1.9+), the
 * dependencies (strings ending in a null one, 1.5+), and last the format's
 * own data: ReadOffset's flag byte and offset for custom (before 1.7, two
 * ints), the data file's name for directory.
 */
async function scanArchiveRoles(path: string, format: 'custom' | 'directory', layout: ArchiveLayout, roles: Set<string>): Promise<void> {
  const { version } = layout;
  if (version > NEWEST_TOC_VERSION) {
    throw new Error(
      `${path} has pg_dump archive version ${archiveVersionText(version)}, newer than the 1.16 (PostgreSQL 17 and 18) whose table of contents firedrill can read, ` +
        'so the roles it needs cannot be listed; restore it with a firedrill that knows this version, or dump with an older pg_dump',
    );
  }
  const at = (minor: number): boolean => version >= archiveVersion(1, minor);
  const reader = await TocReader.open(path, layout);
  const scanner = new SqlRoleScanner(roles);
  try {
    const count = await reader.int('number of entries');
    if (count < 0) throw reader.corrupt(`it says it has ${count} entries`);
    for (let entry = 1; entry <= count; entry++) {
      reader.entry = `entry ${entry} of ${count}`;
      const dumpId = await reader.int('dump id');
      if (dumpId <= 0) throw reader.corrupt(`the dump id ${dumpId} is out of range`);
      await reader.int('has-data flag');
      if (at(8)) await reader.skipString('table oid');
      await reader.skipString('oid');
      await reader.skipString('tag');
      const type = (await reader.string('entry type')) ?? '';
      if (at(11)) await reader.int('section');
      if (ROLE_BEARING_ENTRIES.has(type)) {
        await reader.streamString('definition', scanner);
        scanner.end();
      } else {
        await reader.skipString('definition');
      }
      await reader.skipString('drop statement');
      if (at(3)) await reader.skipString('COPY statement');
      if (at(6)) await reader.skipString('schema');
      if (at(10)) await reader.skipString('tablespace');
      if (at(14)) await reader.skipString('table access method');
      if (at(16)) await reader.int('relkind');
      const owner = await reader.string('owner');
      if (owner) roles.add(owner);
      if (at(9)) await reader.skipString('WITH OIDS flag');
      // Dependencies: dump ids as strings, up to a null string.
      if (at(5)) while ((await reader.skipString('dependency')) !== undefined);
      if (format === 'directory') {
        await reader.skipString('data file name');
      } else if (!at(7)) {
        await reader.int('data offset');
        await reader.int('data length');
      } else {
        const flag = await reader.byte('data offset flag');
        if (!DATA_OFFSET_FLAGS.has(flag)) throw reader.corrupt(`the data offset flag is ${flag}, not 1, 2 or 3`);
        reader.skip(layout.offsetSize ?? 0, 'data offset');
      }
    }
  } finally {
    await reader.close();
  }
}

async function scanPlainRoles(path: string, roles: Set<string>): Promise<void> {
  const scanner = new SqlRoleScanner(roles);
  const decoder = new StringDecoder('utf8');
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: PLAIN_CHUNK_BYTES })) scanner.feed(decoder.write(chunk as Buffer));
  } catch (error) {
    throw new Error(`cannot read the plain-format dump ${path}: ${errorMessage(error)}`, { cause: error });
  }
  scanner.feed(decoder.end());
  scanner.end();
}
