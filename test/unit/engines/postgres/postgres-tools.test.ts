import { describe, expect, it } from 'vitest';
import { majorFromVersionNumber, parseToolVersion, pickTool, type InstalledTool } from '../../../../src/engines/postgres/postgres-tools.ts';

describe('parseToolVersion', () => {
  it('reads a Debian build\'s version and major', () => {
    expect(parseToolVersion('pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)')).toEqual({ version: '15.18', major: 15 });
  });

  it('reads a plain two-part version', () => {
    expect(parseToolVersion('pg_restore (PostgreSQL) 16.2\n')).toEqual({ version: '16.2', major: 16 });
  });

  it('treats a pre-10 three-part version as its first number', () => {
    expect(parseToolVersion('postgres (PostgreSQL) 9.6.24')).toEqual({ version: '9.6.24', major: 9 });
  });

  it('reads a development build by its major', () => {
    expect(parseToolVersion('pg_dump (PostgreSQL) 18devel')).toEqual({ version: '18', major: 18 });
  });

  it.each(['', 'garbage', 'pg_dump 15.18', '16.2', 'mysqldump  Ver 8.0.36'])('returns undefined for %j, which no PostgreSQL program prints', (output) => {
    expect(parseToolVersion(output)).toBeUndefined();
  });
});

describe('majorFromVersionNumber', () => {
  it.each([
    [150018, 15],
    [170000, 17],
    [90624, 9],
  ])('reads server_version_num %i as major %i', (versionNumber, major) => {
    expect(majorFromVersionNumber(versionNumber)).toBe(major);
  });
});

describe('pickTool', () => {
  const tool = (major: number): InstalledTool => ({
    tool: 'pg_dump',
    path: `/usr/lib/postgresql/${major}/bin/pg_dump`,
    binDir: `/usr/lib/postgresql/${major}/bin`,
    version: `${major}.1`,
    major,
  });
  // As findTools returns them: lowest major first.
  const installed = [tool(13), tool(15), tool(16), tool(17)];

  it('picks the lowest major at or above the server\'s, as close to the server as possible', () => {
    expect(pickTool(installed, 14)?.major).toBe(15);
    expect(pickTool(installed, 15)?.major).toBe(15);
    expect(pickTool(installed, 9)?.major).toBe(13);
  });

  it('picks nothing when every installed copy is older than the server', () => {
    expect(pickTool(installed, 18)).toBeUndefined();
    expect(pickTool([], 15)).toBeUndefined();
  });
});
