import { open } from 'node:fs/promises';
import { errorMessage } from '../../errors.ts';

/**
 * The first bytes of a dump file, and what they show it to be: a pg_dump
 * archive, SQL text, or something else (compressed data, a tar archive, an
 * empty file). A dump that is not what its format says is refused here, with
 * what it looks like instead and what to set, rather than by pg_restore or
 * psql halfway through a restore.
 */

/** How every pg_dump archive starts: a custom-format dump, and a directory dump's toc.dat. */
export const ARCHIVE_MAGIC = Buffer.from('PGDMP');
/** A plain dump's opening comments, and with --create its database's entry, come well within this. */
const PLAIN_HEADER_BYTES = 16 * 1024;

export interface FileStart {
  bytes: Buffer;
  /** The file ended within `bytes`: running out of them means it is truncated. */
  ended: boolean;
}

/** The first `size` bytes of a file (fewer when it is shorter), never more. */
export async function readStart(path: string, size: number, what: string): Promise<FileStart> {
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

/** The start of a plain dump, refused unless it could be SQL text: not compressed, not an archive. */
export async function readPlainStart(path: string): Promise<Buffer> {
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
  return bytes;
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
export function describeContent(bytes: Buffer): ContentDescription {
  if (bytes.length === 0) return { what: 'nothing (the file is empty)', text: false, advice: 'the upload or copy may have failed; fetch the dump again' };
  const compression = COMPRESSED_MAGIC.find(({ magic }) => bytes.subarray(0, magic.length).equals(magic));
  if (compression) return { what: `${compression.name}-compressed data`, compressedWith: compression.name, text: false };
  if (bytes.subarray(0, ARCHIVE_MAGIC.length).equals(ARCHIVE_MAGIC)) {
    return { what: 'a pg_dump archive header ("PGDMP")', text: false, advice: 'set format: custom (or, for a directory dump\'s toc.dat, pass its directory with format: directory)' };
  }
  if (bytes.length >= 262 && bytes.subarray(257, 262).toString('latin1') === 'ustar') {
    return { what: 'a tar archive', text: false, advice: 'firedrill reads custom, directory and plain dumps: extract a directory dump first, or dump with -Fc' };
  }
  if (!bytes.includes(0)) return { what: `text (${JSON.stringify(bytes.subarray(0, 24).toString('utf8'))})`, text: true, advice: 'if this is SQL from pg_dump -Fp, set format: plain' };
  return { what: `the bytes ${hex(bytes, 8)}`, text: false };
}

export function hex(bytes: Buffer, count: number): string {
  return [...bytes.subarray(0, count)].map((byte) => byte.toString(16).padStart(2, '0')).join(' ');
}
