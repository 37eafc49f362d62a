import { open, type FileHandle } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import { errorMessage } from '../../errors.ts';
import { archiveVersion, type ArchiveLayout } from './archive-header.ts';
import type { SqlRoleScanner } from './sql-role-scanner.ts';

/** The most of the TOC held at once: a definition longer than this is streamed, so memory stays bounded. */
const TOC_CHUNK_BYTES = 64 * 1024;
/** An owner or entry type longer than this is corruption: role names have at most 63 bytes. */
const MAX_TOC_NAME_BYTES = 1024;

/** The TOC read in chunks from where the header ends, as ReadInt and ReadStr read it; strings are skipped unread unless wanted. */
export class TocReader {
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
  async streamString(what: string, scanner: SqlRoleScanner): Promise<void> {
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
