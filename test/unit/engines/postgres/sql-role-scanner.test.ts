import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readDumpRoles } from '../../../../src/engines/postgres/dump-roles.ts';

/**
 * The SQL scanner behind readDumpRoles on plain dumps, on SQL written by
 * hand: no server is needed. dump-header.test.ts reads the roles of real
 * pg_dump output.
 */

let scratch: string;

async function scratchFile(name: string, content: Buffer | string): Promise<string> {
  const path = join(scratch, name);
  await writeFile(path, content);
  return path;
}

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'firedrill-sql-role-scanner-'));
});

afterAll(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('readDumpRoles on SQL that pg_dump 15 does not write here', () => {
  // pg_dumpall's role grants, hand-edited dumps, the forms of other versions.
  const sql = [
    'SET standard_conforming_strings = on;',
    "SET SESSION AUTHORIZATION 'Batch Loader';",
    'SET ROLE "Night Shift";',
    'SET role = NONE;',
    'RESET SESSION AUTHORIZATION;',
    'GRANT admins, "Read Only" TO alice, "Bob ""B"" Smith" WITH ADMIN OPTION GRANTED BY security_officer;',
    'REVOKE ADMIN OPTION FOR admins FROM carol;',
    'GRANT SELECT ON TABLE public."TO x" TO GROUP staff, PUBLIC, CURRENT_USER;',
    'REVOKE ALL ON FUNCTION public.f(integer, text) FROM PUBLIC, dave CASCADE;',
    'ALTER DEFAULT PRIVILEGES FOR ROLE erin, "Frank" IN SCHEMA s1, s2 REVOKE GRANT OPTION FOR ALL ON SEQUENCES FROM gina;',
    'CREATE POLICY p ON public.t AS RESTRICTIVE FOR UPDATE TO "pol, icy", hank USING ((owner = CURRENT_USER)) WITH CHECK (true);',
    'CREATE POLICY everyone ON public.t USING (true);',
    'CREATE USER MAPPING FOR ivan SERVER remote OPTIONS (user \'x\');',
    'CREATE USER MAPPING FOR PUBLIC SERVER remote;',
    'ALTER ROLE judy IN DATABASE shop SET work_mem TO \'64MB\';',
    'ALTER TABLE public.t RENAME COLUMN owner TO whom;',
    'ALTER TABLE public.t OWNER TO Kim;',
    "COMMENT ON TABLE public.t IS E'it''s \\' OWNER TO evil; GRANT x TO evil';",
    '/* GRANT x TO evil; /* nested */ ALTER TABLE t OWNER TO evil; */',
    '-- ALTER TABLE t OWNER TO evil;',
    'CREATE FUNCTION public.g() RETURNS void LANGUAGE plpgsql AS $fn$ BEGIN GRANT x TO evil; END $fn$;',
    '\\connect - evil',
    'COPY public.t (a) FROM stdin;',
    'ALTER TABLE t OWNER TO evil;',
    '\\.',
    'SET standard_conforming_strings = off;',
    "COMMENT ON TABLE public.t IS 'a \\' GRANT x TO evil;';",
    'SET standard_conforming_strings = on;',
    'ALTER LARGE OBJECT 16400 OWNER TO "Ünal"',
  ].join('\n');
  const expected = [
    'Batch Loader', 'Bob "B" Smith', 'Frank', 'Night Shift', 'Read Only', 'admins', 'alice', 'carol', 'dave', 'erin', 'gina', 'hank', 'ivan', 'judy', 'kim',
    'pol, icy', 'security_officer', 'staff', 'Ünal',
  ];

  it('reads roles from each form, and none from comments, strings, dollar quotes, meta-commands or COPY data', async () => {
    expect(await readDumpRoles(await scratchFile('hand-written.sql', sql), 'plain')).toEqual(expected);
  });

  it('reads the same wherever a read chunk of 64 KiB ends inside the SQL', async () => {
    const chunkBytes = 64 * 1024;
    const bytes = Buffer.from(sql);
    for (let split = 1; split < bytes.length; split++) {
      // A comment line pads the SQL so that a chunk ends just before byte `split` of it.
      const padding = Buffer.from(`--${'-'.repeat(chunkBytes - split - 3)}\n`);
      const path = await scratchFile('split.sql', Buffer.concat([padding, bytes]));
      expect(await readDumpRoles(path, 'plain'), `chunk ending ${split} bytes into the SQL`).toEqual(expected);
    }
  });
});
