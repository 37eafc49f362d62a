import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage } from '../../errors.ts';

/**
 * What a pg_dump backup says about itself, read before anything is started:
 * a backup firedrill did not make (a nightly dump someone uploads) must name
 * the PostgreSQL major its sandbox needs. Only the first few KB are read,
 * whatever the size of the dump.
 *
 * Custom archives (-Fc) and the toc.dat of directory dumps (-Fd) share one
 * binary header, written by WriteHead in PostgreSQL's
 * src/bin/pg_dump/pg_backup_archiver.c: "PGDMP", the archive version (major,
 * minor, revision bytes), the integer and offset sizes, a format code, the
 * compression, the creation time, then the database name, the server's
 * version and pg_dump's own. Plain dumps (-Fp) carry the two versions in
 * their opening comments.
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
  if (format === 'custom') return parseArchiveHeader(await readStart(path, ARCHIVE_HEADER_BYTES, 'custom-format dump'), path, 'custom');
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
  return parseArchiveHeader(toc, tocPath, 'directory');
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

function parseArchiveHeader(start: FileStart, path: string, format: 'custom' | 'directory'): DumpHeader {
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
  if (reader.version >= archiveVersion(1, 7)) reader.byte('offset size');
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
  return header;
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
