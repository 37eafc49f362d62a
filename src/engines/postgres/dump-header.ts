import { readArchiveHeader } from './archive-header.ts';
import { readPlainStart } from './file-start.ts';

/**
 * What a pg_dump backup says about itself, read before anything is started:
 * a backup firedrill did not make (a nightly dump someone uploads) must name
 * the PostgreSQL major its sandbox needs. readDumpHeader reads only the
 * first few KB, whatever the size of the dump.
 *
 * Custom archives (-Fc) and the toc.dat of directory dumps (-Fd) share one
 * binary header, read in archive-header.ts. Plain dumps (-Fp) carry the
 * server's and pg_dump's versions in their opening comments.
 *
 * The roles a dump needs (readDumpRoles, in dump-roles.ts) take reading
 * further: the archive's table of contents, which follows the header, or a
 * plain dump's whole SQL. It is re-exported here because a caller that reads
 * a dump's header reads its roles too.
 */

export { readDumpRoles } from './dump-roles.ts';

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

/**
 * The header of the dump at `path` (for `directory`, the dump's directory).
 * Throws when the file is not what `format` says, is compressed, or is cut
 * off inside its header; a plain dump without version comments is no error.
 */
export async function readDumpHeader(path: string, format: DumpFormat): Promise<DumpHeader> {
  if (format === 'plain') return readPlainHeader(path);
  const archive = await readArchiveHeader(path, format);
  const header: DumpHeader = { format, archiveVersion: archive.archiveVersion, compression: archive.compression };
  setIfPresent(header, 'database', archive.database);
  withVersions(header, archive.serverVersion, archive.dumpVersion);
  return header;
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

async function readPlainHeader(path: string): Promise<DumpHeader> {
  const text = (await readPlainStart(path)).toString('utf8');
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
