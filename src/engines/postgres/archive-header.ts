import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage } from '../../errors.ts';
import { ARCHIVE_MAGIC, describeContent, hex, readStart, type FileStart } from './file-start.ts';

/**
 * The binary header that custom archives (-Fc) and the toc.dat of directory
 * dumps (-Fd) share, written by WriteHead in PostgreSQL's
 * src/bin/pg_dump/pg_backup_archiver.c: "PGDMP", the archive version (major,
 * minor, revision bytes), the integer and offset sizes, a format code, the
 * compression, the creation time, then the database name, the server's
 * version and pg_dump's own. The table of contents follows it, written with
 * the integer and offset sizes it gives.
 */

/** Enough for any real header: its strings are a database name and two version strings. */
const ARCHIVE_HEADER_BYTES = 8 * 1024;
/** A header string longer than this is corruption, not a database name or a version. */
const MAX_HEADER_STRING_BYTES = 1024;

/** archFormat in pg_backup.h. A directory dump's toc.dat says tar (3): pg_dump writes it that way on purpose. */
const FORMAT_CODES: Record<number, string> = { 1: 'custom', 3: 'tar (as in a directory dump\'s toc.dat)', 5: 'directory' };
const EXPECTED_FORMAT_CODE: Record<'custom' | 'directory', number> = { custom: 1, directory: 3 };
/** pg_compress_algorithm in common/compression.h, recorded from archive version 1.15 (PostgreSQL 16) on. */
const COMPRESSION_ALGORITHMS: Record<number, string> = { 0: 'none', 1: 'gzip', 2: 'lz4', 3: 'zstd' };

/** MAKE_ARCHIVE_VERSION in pg_backup_archiver.h. */
export const archiveVersion = (major: number, minor: number, revision = 0): number => (major * 256 + minor) * 256 + revision;

/** `1.14-0`, as `pg_restore -l` prints an archive version. */
export function archiveVersionText(version: number): string {
  return `${Math.floor(version / 65536)}.${Math.floor(version / 256) % 256}-${version % 256}`;
}

/** What an archive's header says, as it says it; readDumpHeader makes a DumpHeader of it. */
export interface ArchiveHeader {
  /** The file the header is in: the dump itself, or a directory dump's toc.dat. */
  filePath: string;
  /** As `pg_restore -l` prints it: `1.14-0`. */
  archiveVersion: string;
  /** `none`, `gzip` (default level), `gzip:<level>`, `lz4` or `zstd`. */
  compression: string;
  /** Absent before archive version 1.4. */
  database?: string;
  /** Absent before archive version 1.10, as is dumpVersion. */
  serverVersion?: string;
  dumpVersion?: string;
  layout: ArchiveLayout;
}

/** How the rest of an archive is written, as the header says: what reading its TOC needs. */
export interface ArchiveLayout {
  version: number;
  intSize: number;
  /** Bytes in a file offset; absent before archive version 1.7, which wrote offsets as integers. */
  offsetSize?: number;
  /** Where the header ends and the TOC begins. */
  end: number;
}

/**
 * The header of a custom-format dump, or of a directory dump's toc.dat (for
 * `directory`, `path` is the dump's directory). Throws when the file is not
 * what `format` says, is compressed, or is cut off inside its header.
 */
export async function readArchiveHeader(path: string, format: 'custom' | 'directory'): Promise<ArchiveHeader> {
  const { start, filePath } = await readArchiveStart(path, format);
  return parseArchiveHeader(start, filePath, format);
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

function parseArchiveHeader(start: FileStart, path: string, format: 'custom' | 'directory'): ArchiveHeader {
  const described = `a pg_dump ${format === 'custom' ? 'custom-format archive (pg_dump -Fc)' : 'directory-format toc.dat (pg_dump -Fd)'}`;
  const magic = start.bytes.subarray(0, ARCHIVE_MAGIC.length);
  if (!magic.equals(ARCHIVE_MAGIC)) {
    if (start.ended && start.bytes.length < ARCHIVE_MAGIC.length && ARCHIVE_MAGIC.subarray(0, start.bytes.length).equals(magic)) {
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
  reader.offset = ARCHIVE_MAGIC.length;
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

  const compression = readCompression(reader);
  let database: string | undefined;
  if (reader.version >= archiveVersion(1, 4)) {
    for (const field of ['second', 'minute', 'hour', 'day', 'month', 'year', 'daylight saving flag']) reader.int(`creation time (${field})`);
    database = reader.string('database name');
  }
  let serverVersion: string | undefined;
  let dumpVersion: string | undefined;
  if (reader.version >= archiveVersion(1, 10)) {
    serverVersion = reader.string('server version');
    dumpVersion = reader.string('pg_dump version');
  }
  const layout: ArchiveLayout = { version: reader.version, intSize: reader.intSize, end: reader.offset };
  if (offsetSize !== undefined) layout.offsetSize = offsetSize;
  return { filePath: path, archiveVersion: archiveVersionText(reader.version), compression, database, serverVersion, dumpVersion, layout };
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
