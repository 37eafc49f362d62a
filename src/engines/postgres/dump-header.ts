import { createReadStream } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { errorMessage } from '../../errors.ts';

/**
 * What a pg_dump backup says about itself, read before anything is started:
 * a backup firedrill did not make (a nightly dump someone uploads) must name
 * the PostgreSQL major its sandbox needs. readDumpHeader reads only the
 * first few KB, whatever the size of the dump.
 *
 * Custom archives (-Fc) and the toc.dat of directory dumps (-Fd) share one
 * binary header, written by WriteHead in PostgreSQL's
 * src/bin/pg_dump/pg_backup_archiver.c: "PGDMP", the archive version (major,
 * minor, revision bytes), the integer and offset sizes, a format code, the
 * compression, the creation time, then the database name, the server's
 * version and pg_dump's own. Plain dumps (-Fp) carry the two versions in
 * their opening comments.
 *
 * The roles a dump needs (readDumpRoles) take reading further: the archive's
 * table of contents, which follows the header, or a plain dump's whole SQL.
 */

export type DumpFormat = 'custom' | 'plain' | 'directory';

export interface DumpHeader {
  format: DumpFormat;
  /** The source server as it reported itself: `15.4 (Debian 15.4-1.pgdg120+1)`. Absent when the dump does not say. */
  serverVersion?: string;
  /** See `majorOfVersion`: 15 for `15.4`, 9 for `9.6.24`. */
  serverMajor?: number;
  /** The pg_dump that wrote the dump: `15.4 (Debian 15.4-1.pgdg120+1)`. */
  dumpVersion?: string;
  dumpMajor?: number;
  /** The database that was dumped. Plain dumps name it only when made with --create. */
  database?: string;
  /** custom and directory: the archive format version as `pg_restore -l` prints it (`1.14-0`). */
  archiveVersion?: string;
  /** custom and directory: `none`, `gzip` (default level), `gzip:<level>`, `lz4` or `zstd`. */
  compression?: string;
}

/** Enough for any real header: its strings are a database name and two version strings. */
const ARCHIVE_HEADER_BYTES = 8 * 1024;
/** A header string longer than this is corruption, not a database name or a version. */
const MAX_HEADER_STRING_BYTES = 1024;
const PLAIN_HEADER_BYTES = 16 * 1024;
const MAGIC = Buffer.from('PGDMP');

/** archFormat in pg_backup.h. A directory dump's toc.dat says tar (3): pg_dump writes it that way on purpose. */
const FORMAT_CODES: Record<number, string> = { 1: 'custom', 3: 'tar (as in a directory dump\'s toc.dat)', 5: 'directory' };
const EXPECTED_FORMAT_CODE: Record<'custom' | 'directory', number> = { custom: 1, directory: 3 };
/** pg_compress_algorithm in common/compression.h, recorded from archive version 1.15 (PostgreSQL 16) on. */
const COMPRESSION_ALGORITHMS: Record<number, string> = { 0: 'none', 1: 'gzip', 2: 'lz4', 3: 'zstd' };

/** MAKE_ARCHIVE_VERSION in pg_backup_archiver.h. */
const archiveVersion = (major: number, minor: number, revision = 0): number => (major * 256 + minor) * 256 + revision;

/**
 * The header of the dump at `path` (for `directory`, the dump's directory).
 * Throws when the file is not what `format` says, is compressed, or is cut
 * off inside its header; a plain dump without version comments is no error.
 */
export async function readDumpHeader(path: string, format: DumpFormat): Promise<DumpHeader> {
  if (format === 'plain') return readPlainHeader(path);
  const { start, filePath } = await readArchiveStart(path, format);
  return parseArchiveHeader(start, filePath, format).header;
}

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
    await readPlainHeader(path); // its checks: not compressed, not an archive
    await scanPlainRoles(path, roles);
  } else {
    const { start, filePath } = await readArchiveStart(path, format);
    await scanArchiveRoles(filePath, format, parseArchiveHeader(start, filePath, format).layout, roles);
  }
  return [...roles].sort((left, right) => (left < right ? -1 : left > right ? 1 : 0));
}

/** The start of a custom-format file, or of a directory dump's toc.dat: where the header and then the TOC are. */
async function readArchiveStart(path: string, format: 'custom' | 'directory'): Promise<{ start: FileStart; filePath: string }> {
  if (format === 'custom') return { start: await readStart(path, ARCHIVE_HEADER_BYTES, 'custom-format dump'), filePath: path };
  const directory = await stat(path).catch((error: unknown) => {
    throw new Error(`cannot read the directory-format dump ${path}: ${errorMessage(error)}`, { cause: error });
  });
  if (!directory.isDirectory()) {
    const found = describeContent((await readStart(path, ARCHIVE_HEADER_BYTES, 'directory-format dump')).bytes);
    throw new Error(`${path} is a file (${found.what}), but a directory-format dump (pg_dump -Fd) is a directory holding toc.dat; ${found.advice ?? 'pass the dump\'s directory'}`);
  }
  const tocPath = join(path, 'toc.dat');
  const toc = await readStart(tocPath, ARCHIVE_HEADER_BYTES, 'directory-format dump').catch((error: unknown) => {
    if ((error as { cause?: NodeJS.ErrnoException }).cause?.code !== 'ENOENT') throw error;
    throw new Error(
      `${path} has no toc.dat, so it is not a complete directory-format dump: pg_dump -Fd writes toc.dat last, so the dump may have been interrupted or copied in part; ` +
        'check that the directory is the one pg_dump -f named, and that the copy is complete',
      { cause: error },
    );
  });
  return { start: toc, filePath: tocPath };
}

/**
 * A version's major as firedrill counts majors everywhere: the number before
 * the first dot (`15.4` → 15, `18beta1` → 18). Before PostgreSQL 10 a major had
 * two parts (9.6); those give their first number (`9.6.24` → 9), as
 * parseToolVersion in postgres-tools.ts counts them, so the two compare.
 */
export function majorOfVersion(version: string): number | undefined {
  const match = /^\s*(\d+)/.exec(version);
  return match ? Number(match[1]) : undefined;
}

interface FileStart {
  bytes: Buffer;
  /** The file ended within `bytes`: running out of them means it is truncated. */
  ended: boolean;
}

/** The first `size` bytes of a file (fewer when it is shorter), never more. */
async function readStart(path: string, size: number, what: string): Promise<FileStart> {
  let handle;
  try {
    handle = await open(path, 'r');
    const buffer = Buffer.alloc(size);
    let filled = 0;
    while (filled < size) {
      const { bytesRead } = await handle.read(buffer, filled, size - filled, filled);
      if (bytesRead === 0) return { bytes: buffer.subarray(0, filled), ended: true };
      filled += bytesRead;
    }
    return { bytes: buffer, ended: false };
  } catch (error) {
    const hint = (error as NodeJS.ErrnoException).code === 'EISDIR' ? ' (a directory: for a pg_dump -Fd dump set format: directory)' : '';
    throw new Error(`cannot read the ${what} ${path}${hint}: ${errorMessage(error)}`, { cause: error });
  } finally {
    await handle?.close();
  }
}

/** Reads the header fields in order, as ReadHead, ReadInt and ReadStr do. */
class HeaderReader {
  offset = 0;
  intSize = 4;
  version = 0;
  readonly #start: FileStart;
  readonly #path: string;

  constructor(start: FileStart, path: string) {
    this.#start = start;
    this.#path = path;
  }

  take(count: number, what: string): Buffer {
    const { bytes, ended } = this.#start;
    if (this.offset + count > bytes.length) {
      if (ended) {
        throw new Error(
          `${this.#path} ends after ${bytes.length} bytes, inside the pg_dump archive header (reading the ${what}): the file is truncated; ` +
            'an interrupted upload or copy? Fetch the complete dump again',
        );
      }
      throw new Error(`${this.#path} has a corrupt pg_dump archive header: the ${what} does not fit in its first ${bytes.length} bytes; fetch the dump again, or take a new one`);
    }
    const taken = bytes.subarray(this.offset, this.offset + count);
    this.offset += count;
    return taken;
  }

  byte(what: string): number {
    return this.take(1, what)[0]!;
  }

  /** WriteInt: a sign byte (from archive version 1.1 on), then intSize bytes, least significant first. */
  int(what: string): number {
    const negative = this.version > archiveVersion(1, 0) ? this.byte(what) !== 0 : false;
    const bytes = this.take(this.intSize, what);
    let value = 0;
    for (let index = bytes.length - 1; index >= 0; index--) value = value * 256 + bytes[index]!;
    return negative ? -value : value;
  }

  /** WriteStr: an int length (-1 for no string), then that many bytes. */
  string(what: string): string | undefined {
    const length = this.int(`length of the ${what}`);
    if (length < 0) return undefined;
    if (length > MAX_HEADER_STRING_BYTES) {
      throw new Error(`${this.#path} has a corrupt pg_dump archive header: the ${what} is said to be ${length} bytes long; fetch the dump again, or take a new one`);
    }
    return this.take(length, what).toString('utf8');
  }
}

/** How the rest of an archive is written, as the header says: what reading its TOC needs. */
interface ArchiveLayout {
  version: number;
  intSize: number;
  /** Bytes in a file offset; absent before archive version 1.7, which wrote offsets as integers. */
  offsetSize?: number;
  /** Where the header ends and the TOC begins. */
  end: number;
}

function parseArchiveHeader(start: FileStart, path: string, format: 'custom' | 'directory'): { header: DumpHeader; layout: ArchiveLayout } {
  const described = `a pg_dump ${format === 'custom' ? 'custom-format archive (pg_dump -Fc)' : 'directory-format toc.dat (pg_dump -Fd)'}`;
  const magic = start.bytes.subarray(0, MAGIC.length);
  if (!magic.equals(MAGIC)) {
    if (start.ended && start.bytes.length < MAGIC.length && MAGIC.subarray(0, start.bytes.length).equals(magic)) {
      throw new Error(`${path} is only ${start.bytes.length} bytes long, shorter than the header of ${described}: the file is truncated; fetch the complete dump again`);
    }
    const found = describeContent(start.bytes);
    if (found.compressedWith) {
      throw new Error(
        `${path} looks compressed with ${found.compressedWith} (it starts with ${hex(start.bytes, 4)}), but ${described} starts with "PGDMP": ` +
          `set compression: ${found.compressedWith} for this backup so it is decompressed first, or decompress the file yourself`,
      );
    }
    throw new Error(`${path} is not ${described}: such a file starts with "PGDMP", this one with ${found.what}; ${found.advice ?? 'check which file and format this backup names'}`);
  }

  const reader = new HeaderReader(start, path);
  reader.offset = MAGIC.length;
  const major = reader.byte('archive version');
  const minor = reader.byte('archive version');
  const revision = major > 1 || (major === 1 && minor > 0) ? reader.byte('archive version') : 0;
  reader.version = archiveVersion(major, minor, revision);
  if (major !== 1) {
    throw new Error(`${path} has pg_dump archive version ${major}.${minor}-${revision}, which firedrill cannot read (it reads archive versions 1.x); the file may be corrupt, or from a pg_dump far newer than this firedrill`);
  }
  reader.intSize = reader.byte('integer size');
  // ReadHead rejects more than 32; zero would make every integer empty.
  if (reader.intSize < 1 || reader.intSize > 32) throw new Error(`${path} has a corrupt pg_dump archive header: its integer size is ${reader.intSize} bytes`);
  const offsetSize = reader.version >= archiveVersion(1, 7) ? reader.byte('offset size') : undefined;
  const formatCode = reader.byte('format code');
  if (formatCode !== EXPECTED_FORMAT_CODE[format]) {
    const advice = formatCode === 1 ? 'set format: custom' : formatCode === 3 && format === 'custom' ? 'pass the directory it is in with format: directory' : 'check the backup\'s format';
    throw new Error(
      `${path} is not ${described}: its header has format code ${formatCode} (${FORMAT_CODES[formatCode] ?? 'unknown'}) where ${EXPECTED_FORMAT_CODE[format]} was expected; ${advice}`,
    );
  }

  const header: DumpHeader = { format, archiveVersion: `${major}.${minor}-${revision}`, compression: readCompression(reader) };
  if (reader.version >= archiveVersion(1, 4)) {
    for (const field of ['second', 'minute', 'hour', 'day', 'month', 'year', 'daylight saving flag']) reader.int(`creation time (${field})`);
    setIfPresent(header, 'database', reader.string('database name'));
  }
  if (reader.version >= archiveVersion(1, 10)) {
    withVersions(header, reader.string('server version'), reader.string('pg_dump version'));
  }
  const layout: ArchiveLayout = { version: reader.version, intSize: reader.intSize, end: reader.offset };
  if (offsetSize !== undefined) layout.offsetSize = offsetSize;
  return { header, layout };
}

/** Before archive version 1.15 a zlib level was recorded: 0 none, -1 the default, else the level. */
function readCompression(reader: HeaderReader): string {
  if (reader.version >= archiveVersion(1, 15)) {
    const code = reader.byte('compression algorithm');
    return COMPRESSION_ALGORITHMS[code] ?? `unknown (${code})`;
  }
  if (reader.version < archiveVersion(1, 2)) return 'gzip';
  const level = reader.version < archiveVersion(1, 4) ? reader.byte('compression level') : reader.int('compression level');
  return level === 0 ? 'none' : level === -1 ? 'gzip' : `gzip:${level}`;
}

async function readPlainHeader(path: string): Promise<DumpHeader> {
  const { bytes } = await readStart(path, PLAIN_HEADER_BYTES, 'plain-format dump');
  const found = describeContent(bytes);
  if (found.compressedWith) {
    throw new Error(
      `${path} looks compressed with ${found.compressedWith} (it starts with ${hex(bytes, 4)}), but a plain-format dump is SQL text: ` +
        `set compression: ${found.compressedWith} for this backup so it is decompressed first, or decompress the file yourself`,
    );
  }
  if (!found.text) {
    throw new Error(`${path} is not a plain-format dump (SQL text from pg_dump -Fp): it starts with ${found.what}; ${found.advice ?? 'check which file and format this backup names'}`);
  }
  const text = bytes.toString('utf8');
  const header: DumpHeader = { format: 'plain' };
  withVersions(header, /^-- Dumped from database version (.+?)\r?$/m.exec(text)?.[1], /^-- Dumped by pg_dump version (.+?)\r?$/m.exec(text)?.[1]);
  // With --create the first entry is the database's own: "-- Name: shop; Type: DATABASE; Schema: -; Owner: postgres".
  setIfPresent(header, 'database', /^-- Name: (.+?); Type: DATABASE; Schema: -;/m.exec(text)?.[1]);
  return header;
}

function withVersions(header: DumpHeader, serverVersion: string | undefined, dumpVersion: string | undefined): void {
  setIfPresent(header, 'serverVersion', serverVersion?.trim());
  setIfPresent(header, 'serverMajor', header.serverVersion === undefined ? undefined : majorOfVersion(header.serverVersion));
  setIfPresent(header, 'dumpVersion', dumpVersion?.trim());
  setIfPresent(header, 'dumpMajor', header.dumpVersion === undefined ? undefined : majorOfVersion(header.dumpVersion));
}

/** Leaves out what is unknown, so a header has no keys that are present but undefined. */
function setIfPresent<K extends keyof DumpHeader>(header: DumpHeader, key: K, value: DumpHeader[K] | undefined): void {
  if (value !== undefined && value !== '') header[key] = value;
}

interface ContentDescription {
  /** For messages: "gzip-compressed data", "SQL text". */
  what: string;
  compressedWith?: string;
  /** Could be a plain dump's SQL: no NUL bytes. */
  text: boolean;
  advice?: string;
}

const COMPRESSED_MAGIC: { name: string; magic: Buffer }[] = [
  { name: 'gzip', magic: Buffer.from([0x1f, 0x8b]) },
  { name: 'zstd', magic: Buffer.from([0x28, 0xb5, 0x2f, 0xfd]) },
  { name: 'lz4', magic: Buffer.from([0x04, 0x22, 0x4d, 0x18]) },
  { name: 'xz', magic: Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]) },
  { name: 'bzip2', magic: Buffer.from('BZh') },
];

/** What a file that is not the expected dump looks like instead, to say so in the error. */
function describeContent(bytes: Buffer): ContentDescription {
  if (bytes.length === 0) return { what: 'nothing (the file is empty)', text: false, advice: 'the upload or copy may have failed; fetch the dump again' };
  const compression = COMPRESSED_MAGIC.find(({ magic }) => bytes.subarray(0, magic.length).equals(magic));
  if (compression) return { what: `${compression.name}-compressed data`, compressedWith: compression.name, text: false };
  if (bytes.subarray(0, MAGIC.length).equals(MAGIC)) {
    return { what: 'a pg_dump archive header ("PGDMP")', text: false, advice: 'set format: custom (or, for a directory dump\'s toc.dat, pass its directory with format: directory)' };
  }
  if (bytes.length >= 262 && bytes.subarray(257, 262).toString('latin1') === 'ustar') {
    return { what: 'a tar archive', text: false, advice: 'firedrill reads custom, directory and plain dumps: extract a directory dump first, or dump with -Fc' };
  }
  if (!bytes.includes(0)) return { what: `text (${JSON.stringify(bytes.subarray(0, 24).toString('utf8'))})`, text: true, advice: 'if this is SQL from pg_dump -Fp, set format: plain' };
  return { what: `the bytes ${hex(bytes, 8)}`, text: false };
}

function hex(bytes: Buffer, count: number): string {
  return [...bytes.subarray(0, count)].map((byte) => byte.toString(16).padStart(2, '0')).join(' ');
}

// ---------------------------------------------------------------------------
// Roles in an archive's table of contents

/** The newest archive version whose TOC layout firedrill knows: 1.16, written by PostgreSQL 17 and 18. */
const NEWEST_TOC_VERSION = archiveVersion(1, 16, 255);
const TOC_CHUNK_BYTES = 64 * 1024;
/** An owner or entry type longer than this is corruption: role names have at most 63 bytes. */
const MAX_TOC_NAME_BYTES = 1024;
/**
 * Entries whose SQL names roles beyond their owner. STDSTRINGS says how the
 * SQL of the others quotes strings; DATABASE PROPERTIES holds
 * `ALTER ROLE x IN DATABASE ...`; ACL LANGUAGE is the ACL of archives before 1.11.
 */
const ROLE_BEARING_ENTRIES = new Set(['ACL', 'ACL LANGUAGE', 'DEFAULT ACL', 'POLICY', 'USER MAPPING', 'DATABASE PROPERTIES', 'STDSTRINGS']);
/** K_OFFSET_POS_NOT_SET, K_OFFSET_POS_SET and K_OFFSET_NO_DATA in pg_backup_archiver.h. */
const DATA_OFFSET_FLAGS = new Set([1, 2, 3]);

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
  const scanner = new RoleScanner(roles);
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

function archiveVersionText(version: number): string {
  return `${Math.floor(version / 65536)}.${Math.floor(version / 256) % 256}-${version % 256}`;
}

/** The TOC read in chunks from where the header ends, as ReadInt and ReadStr read it; strings are skipped unread unless wanted. */
class TocReader {
  /** For messages: which entry is being read. */
  entry = 'the start';
  #position: number;
  #bufferStart = 0;
  #bufferEnd = 0;
  readonly #buffer = Buffer.alloc(TOC_CHUNK_BYTES);
  readonly #handle: FileHandle;
  readonly #path: string;
  readonly #size: number;
  readonly #layout: ArchiveLayout;

  private constructor(handle: FileHandle, path: string, size: number, layout: ArchiveLayout) {
    this.#handle = handle;
    this.#path = path;
    this.#size = size;
    this.#layout = layout;
    this.#position = layout.end;
  }

  static async open(path: string, layout: ArchiveLayout): Promise<TocReader> {
    let handle: FileHandle | undefined;
    try {
      handle = await open(path, 'r');
      return new TocReader(handle, path, (await handle.stat()).size, layout);
    } catch (error) {
      await handle?.close();
      throw new Error(`cannot read the table of contents of ${path}: ${errorMessage(error)}`, { cause: error });
    }
  }

  async close(): Promise<void> {
    await this.#handle.close();
  }

  corrupt(problem: string): Error {
    return new Error(
      `${this.#path} has a corrupt table of contents after its pg_dump archive header (${this.entry}): ${problem}; fetch the dump again, or take a new one`,
    );
  }

  async byte(what: string): Promise<number> {
    return (await this.#take(1, what))[0]!;
  }

  /** WriteInt: a sign byte (from archive version 1.1 on), then intSize bytes, least significant first. */
  async int(what: string): Promise<number> {
    const { version, intSize } = this.#layout;
    const negative = version > archiveVersion(1, 0) ? (await this.byte(what)) !== 0 : false;
    const bytes = await this.#take(intSize, what);
    let value = 0;
    for (let index = bytes.length - 1; index >= 0; index--) value = value * 256 + bytes[index]!;
    return negative ? -value : value;
  }

  /** A short string (an owner, an entry type); undefined for WriteStr's null string. */
  async string(what: string): Promise<string | undefined> {
    const length = await this.#length(what);
    if (length === undefined) return undefined;
    if (length > MAX_TOC_NAME_BYTES) throw this.corrupt(`its ${what} is said to be ${length} bytes long`);
    return (await this.#take(length, what)).toString('utf8');
  }

  /** Steps over a string without reading it; undefined for a null string, which ends a dependency list. */
  async skipString(what: string): Promise<number | undefined> {
    const length = await this.#length(what);
    if (length !== undefined) this.skip(length, what);
    return length;
  }

  /** Hands a string of any length to the scanner a chunk at a time. */
  async streamString(what: string, scanner: RoleScanner): Promise<void> {
    let remaining = (await this.#length(what)) ?? 0;
    const decoder = new StringDecoder('utf8');
    while (remaining > 0) {
      const chunk = await this.#take(Math.min(remaining, TOC_CHUNK_BYTES), what);
      remaining -= chunk.length;
      scanner.feed(decoder.write(chunk));
    }
    scanner.feed(decoder.end());
  }

  skip(count: number, what: string): void {
    this.#need(count, what);
    this.#position += count;
  }

  async #length(what: string): Promise<number | undefined> {
    const length = await this.int(`length of the ${what}`);
    if (length < 0) return undefined;
    this.#need(length, what);
    return length;
  }

  /** Throws when the file ends before `count` more bytes. */
  #need(count: number, what: string): void {
    const left = this.#size - this.#position;
    if (count <= left) return;
    throw new Error(
      `${this.#path} ends inside the table of contents of its pg_dump archive (${this.entry}, reading the ${what}: ${count} bytes wanted, ${left} left): ` +
        'the file is truncated, or corrupt; an interrupted upload or copy? Fetch the complete dump again',
    );
  }

  /** The next `count` bytes (at most a chunk), read from the file when the buffer does not hold them. */
  async #take(count: number, what: string): Promise<Buffer> {
    this.#need(count, what);
    if (this.#position < this.#bufferStart || this.#position + count > this.#bufferEnd) {
      const length = Math.min(TOC_CHUNK_BYTES, this.#size - this.#position);
      let filled = 0;
      while (filled < length) {
        const { bytesRead } = await this.#handle.read(this.#buffer, filled, length - filled, this.#position + filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      this.#bufferStart = this.#position;
      this.#bufferEnd = this.#position + filled;
      this.#need(count, what);
      if (filled < count) throw new Error(`${this.#path} changed while its table of contents was read (${this.entry}); read it again once it is complete`);
    }
    const offset = this.#position - this.#bufferStart;
    this.#position += count;
    return this.#buffer.subarray(offset, offset + count);
  }
}

// ---------------------------------------------------------------------------
// Roles in SQL: a plain dump, or the definitions of an archive's entries

const PLAIN_CHUNK_BYTES = 64 * 1024;

async function scanPlainRoles(path: string, roles: Set<string>): Promise<void> {
  const scanner = new RoleScanner(roles);
  const decoder = new StringDecoder('utf8');
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: PLAIN_CHUNK_BYTES })) scanner.feed(decoder.write(chunk as Buffer));
  } catch (error) {
    throw new Error(`cannot read the plain-format dump ${path}: ${errorMessage(error)}`, { cause: error });
  }
  scanner.feed(decoder.end());
  scanner.end();
}

/** A name longer than this is no role name (those have at most 63 bytes); kept only as "too long". */
const MAX_TOKEN_CHARS = 1024;
/** Statements naming roles are short; of a longer one only the start is looked at. */
const MAX_STATEMENT_TOKENS = 16 * 1024;
/** Only statements starting with these can name roles (or start COPY data); the rest are skipped unkept. */
const ROLE_STATEMENT_VERBS = new Set(['GRANT', 'REVOKE', 'ALTER', 'CREATE', 'SET', 'COPY']);
/** Words that stand where a role name would, but are none: `TO PUBLIC`, `OWNER TO CURRENT_USER`, `SET ROLE NONE`. */
const NOT_ROLE_NAMES = new Set(['PUBLIC', 'CURRENT_USER', 'CURRENT_ROLE', 'SESSION_USER', 'USER', 'NONE', 'DEFAULT', 'ALL']);

type LexicalState = 'code' | 'string' | 'quoted' | 'dollar' | 'line comment' | 'block comment' | 'meta-command' | 'copy command line' | 'copy data';

interface Token {
  /** word: a keyword or unquoted name; quoted: a "quoted" name; string: a literal's content; long: too long to be a name. */
  kind: 'word' | 'quoted' | 'string' | 'symbol' | 'long';
  text: string;
  /** Parentheses around it: a role list is never inside any. */
  depth: number;
}

/**
 * Splits SQL into statements as psql does, from text fed in pieces of any
 * size, and adds the roles each statement names. It keeps only the current
 * statement's tokens, and only of a statement that could name a role.
 *
 * psql's rules it follows: `;` ends a statement outside parentheses; '...'
 * (with '' and, in E'...' or with standard_conforming_strings off, \'),
 * "..." (with ""), $tag$...$tag$, -- comments and nested block comments hide
 * what they hold; a backslash outside them starts a meta-command (\connect,
 * \restrict) that runs to the end of the line; after `COPY ... FROM stdin;`
 * the lines up to `\.` are row data. The `;` inside a BEGIN ATOMIC body
 * (which psql keeps together) splits it here, harmlessly: the pieces are
 * queries, which name no roles.
 */
class RoleScanner {
  /** Set by `SET standard_conforming_strings`; pg_dump has written `on` since PostgreSQL 8.2. */
  standardConformingStrings = true;
  readonly #roles: Set<string>;
  #state: LexicalState = 'code';
  /** The end of the last piece, when it could not be read without what follows (`-` of `--`, `'` of `''`). */
  #carry = '';
  #word = '';
  #literal = '';
  #literalTooLong = false;
  #backslashEscapes = false;
  #dollarDelimiter = '';
  #commentDepth = 0;
  #depth = 0;
  #tokens: Token[] = [];
  /** The statement cannot name a role: its tokens are not kept. */
  #ignored = false;
  #truncated = false;
  #atCopyLineStart = false;

  constructor(roles: Set<string>) {
    this.#roles = roles;
  }

  feed(piece: string, final = false): void {
    const text = this.#carry + piece;
    this.#carry = '';
    let index = 0;
    while (index < text.length) {
      const next = this.#step(text, index, final);
      if (next < 0) {
        this.#carry = text.slice(index);
        return;
      }
      index = next;
    }
  }

  /** The input is complete: a last statement without `;` counts too. Then ready for new input. */
  end(): void {
    this.feed('', true);
    if (this.#state === 'string' || this.#state === 'quoted' || this.#state === 'dollar') this.#endLiteral();
    this.#endWord();
    this.#endStatement();
    this.#state = 'code';
  }

  /** Reads from `index` in the current state; the index after what it read, or -1 when it needs more text. */
  #step(text: string, index: number, final: boolean): number {
    switch (this.#state) {
      case 'code':
        return this.#code(text, index, final);
      case 'string':
        return this.#backslashEscapes ? this.#escapedString(text, index, final) : this.#quotedText(text, index, final, "'");
      case 'quoted':
        return this.#quotedText(text, index, final, '"');
      case 'dollar':
        return this.#dollarQuoted(text, index, final);
      case 'block comment':
        return this.#blockComment(text, index, final);
      case 'copy data':
        return this.#copyData(text, index, final);
      default: {
        // line comment, meta-command, the rest of a COPY's line: all end with the line
        const newline = text.indexOf('\n', index);
        if (newline < 0) return text.length;
        if (this.#state === 'copy command line') {
          this.#state = 'copy data';
          this.#atCopyLineStart = true;
        } else {
          this.#state = 'code';
        }
        return newline + 1;
      }
    }
  }

  #code(text: string, index: number, final: boolean): number {
    let end = index;
    // Numbers are words too: they are never role names, and so never looked at.
    while (end < text.length && (isIdentifierPart(text.charCodeAt(end)) && (text[end] !== '$' || this.#word !== '' || end > index))) end++;
    if (end > index) {
      if (this.#word.length <= MAX_TOKEN_CHARS) this.#word += text.slice(index, Math.min(end, index + MAX_TOKEN_CHARS + 1 - this.#word.length));
      return end;
    }
    const character = text[index]!;
    if (character === "'") {
      const escapePrefix = this.#word === 'E' || this.#word === 'e';
      if (escapePrefix) this.#word = '';
      this.#endWord();
      this.#beginLiteral('string', escapePrefix || !this.standardConformingStrings);
      return index + 1;
    }
    this.#endWord();
    if (character === '-' || character === '/') {
      if (index + 1 >= text.length && !final) return -1;
      const next = text[index + 1];
      if (character === '-' && next === '-') {
        this.#state = 'line comment';
        return index + 2;
      }
      if (character === '/' && next === '*') {
        this.#state = 'block comment';
        this.#commentDepth = 1;
        return index + 2;
      }
    }
    switch (character) {
      case ' ':
      case '\t':
      case '\n':
      case '\r':
      case '\f':
        return index + 1;
      case '"':
        this.#beginLiteral('quoted', false);
        return index + 1;
      case '$':
        return this.#dollarStart(text, index, final);
      case '\\':
        this.#state = 'meta-command';
        return index + 1;
      case '(':
        this.#push('symbol', character);
        this.#depth++;
        return index + 1;
      case ')':
        this.#depth = Math.max(0, this.#depth - 1);
        this.#push('symbol', character);
        return index + 1;
      case ';':
        if (this.#depth === 0) this.#endStatement();
        else this.#push('symbol', character);
        return index + 1;
      default:
        this.#push('symbol', character);
        return index + 1;
    }
  }

  /** `$tag$` opens a dollar quote; `$1` is a parameter and a lone `$` an operator's. */
  #dollarStart(text: string, index: number, final: boolean): number {
    let end = index + 1;
    while (end < text.length && end - index <= MAX_TOKEN_CHARS && text[end] !== '$' && (end === index + 1 ? isIdentifierStart : isIdentifierPart)(text.charCodeAt(end))) end++;
    if (end >= text.length && !final && end - index <= MAX_TOKEN_CHARS) return -1;
    if (text[end] === '$') {
      this.#dollarDelimiter = text.slice(index, end + 1);
      this.#beginLiteral('dollar', false);
      return end + 1;
    }
    this.#push('symbol', '$');
    return index + 1;
  }

  /** '...' or "...": the quote doubled stands for itself. */
  #quotedText(text: string, index: number, final: boolean, quote: string): number {
    if (text[index] !== quote) {
      const end = text.indexOf(quote, index);
      return this.#appendLiteral(text, index, end < 0 ? text.length : end);
    }
    if (index + 1 >= text.length && !final) return -1;
    if (text[index + 1] === quote) {
      this.#appendLiteral(quote, 0, 1);
      return index + 2;
    }
    this.#endLiteral();
    return index + 1;
  }

  /** E'...': a backslash escapes the next character (read here as itself, enough for names). */
  #escapedString(text: string, index: number, final: boolean): number {
    const character = text[index];
    if (character === '\\') {
      if (index + 1 >= text.length && !final) return -1;
      this.#appendLiteral(text, index + 1, Math.min(index + 2, text.length));
      return index + 2;
    }
    if (character === "'") return this.#quotedText(text, index, final, "'");
    let end = index;
    while (end < text.length && text[end] !== '\\' && text[end] !== "'") end++;
    return this.#appendLiteral(text, index, end);
  }

  #dollarQuoted(text: string, index: number, final: boolean): number {
    const delimiter = this.#dollarDelimiter;
    const end = text.indexOf(delimiter, index);
    if (end >= 0) {
      this.#appendLiteral(text, index, end);
      this.#endLiteral();
      return end + delimiter.length;
    }
    if (final) return this.#appendLiteral(text, index, text.length);
    // Keep what could be the start of the closing delimiter for the next piece.
    const safe = text.length - (delimiter.length - 1);
    return safe > index ? this.#appendLiteral(text, index, safe) : -1;
  }

  #blockComment(text: string, index: number, final: boolean): number {
    let position = index;
    while (position < text.length && text[position] !== '*' && text[position] !== '/') position++;
    if (position >= text.length) return text.length;
    if (position + 1 >= text.length) return final ? text.length : position > index ? position : -1;
    const pair = text.slice(position, position + 2);
    if (pair === '*/') {
      if (--this.#commentDepth === 0) this.#state = 'code';
      return position + 2;
    }
    if (pair === '/*') {
      this.#commentDepth++;
      return position + 2;
    }
    return position + 1;
  }

  /** COPY's rows, a line at a time without keeping any, up to the line `\.`. */
  #copyData(text: string, index: number, final: boolean): number {
    if (this.#atCopyLineStart) {
      const rest = text.slice(index, index + 4);
      const terminator = ['\\.\n', '\\.\r\n'].find((candidate) => rest.startsWith(candidate));
      if (terminator) {
        this.#state = 'code';
        return index + terminator.length;
      }
      if (rest.length < 4 && ['\\.\n', '\\.\r\n'].some((candidate) => candidate.startsWith(rest))) {
        if (!final) return -1;
        if (rest === '\\.' || rest === '\\.\r') {
          this.#state = 'code';
          return text.length;
        }
      }
      this.#atCopyLineStart = false;
    }
    const newline = text.indexOf('\n', index);
    if (newline < 0) return text.length;
    this.#atCopyLineStart = true;
    return newline + 1;
  }

  #beginLiteral(state: 'string' | 'quoted' | 'dollar', backslashEscapes: boolean): void {
    this.#state = state;
    this.#literal = '';
    this.#literalTooLong = false;
    this.#backslashEscapes = backslashEscapes;
  }

  #appendLiteral(text: string, start: number, end: number): number {
    if (this.#literal.length + (end - start) > MAX_TOKEN_CHARS) this.#literalTooLong = true;
    else this.#literal += text.slice(start, end);
    return end;
  }

  #endLiteral(): void {
    const kind = this.#literalTooLong ? 'long' : this.#state === 'quoted' ? 'quoted' : 'string';
    this.#state = 'code';
    this.#push(kind, this.#literal);
    this.#literal = '';
  }

  #endWord(): void {
    if (this.#word === '') return;
    this.#push(this.#word.length > MAX_TOKEN_CHARS ? 'long' : 'word', this.#word);
    this.#word = '';
  }

  #push(kind: Token['kind'], text: string): void {
    if (this.#ignored) return;
    if (this.#tokens.length === 0 && !(kind === 'word' && ROLE_STATEMENT_VERBS.has(text.toUpperCase()))) {
      this.#ignored = true;
      return;
    }
    if (this.#tokens.length >= MAX_STATEMENT_TOKENS) this.#truncated = true;
    else this.#tokens.push({ kind, text, depth: this.#depth });
  }

  #endStatement(): void {
    if (this.#tokens.length > 0) {
      const statement = new StatementRoles(this.#tokens, !this.#truncated);
      for (const role of statement.roles()) this.#roles.add(role);
      if (statement.startsCopyData()) this.#state = 'copy command line';
      this.standardConformingStrings = statement.standardConformingStrings() ?? this.standardConformingStrings;
    }
    this.#tokens = [];
    this.#ignored = false;
    this.#truncated = false;
    this.#depth = 0;
  }
}

/** What may start an identifier in PostgreSQL: a letter, `_`, any non-ASCII character. */
function isIdentifierStart(code: number): boolean {
  return (code >= 97 && code <= 122) || (code >= 65 && code <= 90) || code === 95 || code >= 128;
}

/** What may follow in one: also digits and `$`. */
function isIdentifierPart(code: number): boolean {
  return isIdentifierStart(code) || (code >= 48 && code <= 57) || code === 36;
}

/**
 * The roles one statement names, in the forms pg_dump writes (and pg_dumpall,
 * and hand-written SQL, where cheap):
 * `ALTER ... OWNER TO x`, `GRANT ... ON ... TO x, y [WITH GRANT OPTION] [GRANTED BY z]`,
 * `REVOKE ... FROM x`, `GRANT role TO x` (membership), `ALTER DEFAULT PRIVILEGES FOR ROLE x ...`,
 * `CREATE POLICY ... TO x, y`, `SET SESSION AUTHORIZATION x`, `SET ROLE x`,
 * `CREATE USER MAPPING FOR x`, `ALTER ROLE x IN DATABASE ...`.
 */
class StatementRoles {
  readonly #tokens: Token[];
  readonly #complete: boolean;
  readonly #found: string[] = [];

  constructor(tokens: Token[], complete: boolean) {
    this.#tokens = tokens;
    this.#complete = complete;
  }

  roles(): string[] {
    const tokens = this.#tokens;
    const verb = tokens[0]!.text.toUpperCase();
    if (verb === 'GRANT' || verb === 'REVOKE') this.#grantOrRevoke(0);
    else if (verb === 'ALTER') this.#alter();
    else if (verb === 'CREATE' && this.#keyword(1, 'POLICY')) this.#policy();
    else if (verb === 'CREATE' && this.#keyword(1, 'USER') && this.#keyword(2, 'MAPPING')) {
      const forIndex = this.#find(3, 'FOR');
      if (forIndex >= 0) this.#roleAt(forIndex + 1);
    } else if (verb === 'SET') this.#setRole();
    return this.#found;
  }

  /** `COPY ... FROM stdin`: row data follows on the next line. */
  startsCopyData(): boolean {
    if (!this.#keyword(0, 'COPY')) return false;
    const from = this.#find(1, 'FROM');
    return from >= 0 && this.#keyword(from + 1, 'STDIN');
  }

  /** `SET standard_conforming_strings = on|off`; undefined for any other statement. */
  standardConformingStrings(): boolean | undefined {
    const index = this.#keyword(1, 'SESSION', 'LOCAL') ? 2 : 1;
    if (!this.#keyword(0, 'SET') || !this.#keyword(index, 'STANDARD_CONFORMING_STRINGS')) return undefined;
    const value = this.#tokens[this.#skipAssignment(index + 1)];
    const setting = value?.text.toLowerCase();
    if (setting === 'on' || setting === 'true') return true;
    if (setting === 'off' || setting === 'false') return false;
    return undefined;
  }

  #grantOrRevoke(start: number): void {
    const granting = this.#keyword(start, 'GRANT');
    const recipients = this.#find(start + 1, granting ? 'TO' : 'FROM');
    if (recipients < 0) return;
    const on = this.#find(start + 1, 'ON');
    if (on < 0 || on > recipients) {
      // Role membership: the granted roles are roles too. REVOKE may start with "ADMIN OPTION FOR".
      const first = !granting && this.#keyword(start + 2, 'OPTION') && this.#keyword(start + 3, 'FOR') ? start + 4 : start + 1;
      this.#roleList(first);
    }
    const after = this.#roleList(recipients + 1);
    const grantedBy = this.#find(after, 'GRANTED');
    if (grantedBy >= 0 && this.#keyword(grantedBy + 1, 'BY')) this.#roleAt(grantedBy + 2);
  }

  #alter(): void {
    const tokens = this.#tokens;
    if (this.#keyword(1, 'DEFAULT') && this.#keyword(2, 'PRIVILEGES')) {
      for (let index = 3; index < tokens.length; index++) {
        if (this.#keyword(index, 'FOR') && this.#keyword(index + 1, 'ROLE', 'USER')) index = this.#roleList(index + 2) - 1;
        else if (this.#keyword(index, 'GRANT', 'REVOKE')) return this.#grantOrRevoke(index);
      }
      return;
    }
    if (this.#keyword(1, 'ROLE', 'USER') && this.#keyword(3, 'IN') && this.#keyword(4, 'DATABASE')) return this.#roleAt(2);
    // Always the statement's end in pg_dump's SQL; RENAME ... owner TO x renames a column called owner.
    const last = tokens.length - 1;
    if (this.#complete && last >= 3 && this.#keyword(last - 2, 'OWNER') && this.#keyword(last - 1, 'TO') && this.#find(1, 'RENAME') < 0) this.#roleAt(last);
  }

  /** CREATE POLICY name ON table [AS ...] [FOR command] [TO roles] [USING (...)] [WITH CHECK (...)] */
  #policy(): void {
    const on = this.#find(2, 'ON');
    if (on < 0) return;
    for (let index = on + 1; index < this.#tokens.length; index++) {
      if (this.#keyword(index, 'USING', 'WITH')) return;
      if (this.#keyword(index, 'TO')) {
        this.#roleList(index + 1);
        return;
      }
    }
  }

  /** SET [SESSION | LOCAL] ROLE x, SET [SESSION | LOCAL] SESSION AUTHORIZATION x: x may be a string literal. */
  #setRole(): void {
    const index = this.#keyword(1, 'SESSION', 'LOCAL') && !this.#keyword(2, 'AUTHORIZATION') ? 2 : 1;
    let value: number;
    if (this.#keyword(index, 'ROLE')) value = this.#skipAssignment(index + 1);
    else if (this.#keyword(index, 'SESSION') && this.#keyword(index + 1, 'AUTHORIZATION')) value = index + 2;
    else return;
    const token = this.#tokens[value];
    if (token?.kind === 'string') {
      if (token.text !== '' && token.text.toLowerCase() !== 'none') this.#add(token.text);
    } else {
      this.#roleAt(value);
    }
  }

  /** Role names separated by commas from `index` (`GROUP x` is old syntax for x); the index after them. */
  #roleList(index: number): number {
    let position = index;
    for (;;) {
      if (this.#keyword(position, 'GROUP') && this.#isName(position + 1)) position++;
      if (!this.#isName(position)) return position;
      this.#roleAt(position++);
      const separator = this.#tokens[position];
      if (separator?.kind !== 'symbol' || separator.text !== ',') return position;
      position++;
    }
  }

  #roleAt(index: number): void {
    const token = this.#tokens[index];
    if (token?.kind === 'quoted') this.#add(token.text);
    // Unquoted names are folded to lower case, as PostgreSQL folds them (ASCII letters only).
    else if (token?.kind === 'word' && !NOT_ROLE_NAMES.has(token.text.toUpperCase())) this.#add(token.text.replace(/[A-Z]+/g, (letters) => letters.toLowerCase()));
  }

  #add(name: string): void {
    // "public" is PUBLIC however it is written.
    if (name !== '' && name !== 'public') this.#found.push(name);
  }

  #isName(index: number): boolean {
    const token = this.#tokens[index];
    return token !== undefined && token.depth === 0 && (token.kind === 'word' || token.kind === 'quoted');
  }

  /** `=` or `TO`, as in SET role = x. */
  #skipAssignment(index: number): number {
    const token = this.#tokens[index];
    return (token?.kind === 'symbol' && token.text === '=') || this.#keyword(index, 'TO') ? index + 1 : index;
  }

  #keyword(index: number, ...words: string[]): boolean {
    const token = this.#tokens[index];
    return token !== undefined && token.kind === 'word' && token.depth === 0 && words.includes(token.text.toUpperCase());
  }

  /** The first keyword `word` outside parentheses from `start`, or -1. */
  #find(start: number, word: string): number {
    for (let index = start; index < this.#tokens.length; index++) if (this.#keyword(index, word)) return index;
    return -1;
  }
}
