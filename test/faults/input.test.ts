import { access, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DRILL, reportOf, useFaultScene } from '../support/fault-scene.ts';
import { drillFile } from '../support/source-database.ts';
import { connect } from '../../src/engines/postgres/session.ts';

/**
 * Hostile input: drill files built to hurt (an alias bomb, a 10 MB file,
 * unknown keys, wrong types, names with shell metacharacters or `..`) are
 * config errors, and nothing of them runs; metacharacters in check names and
 * queries are only ever text (SQL to the sandbox, escaped in reports), never
 * a shell's input, and the source is never written.
 */

const scene = useFaultScene();

const ALIAS_BOMB = [
  'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
  'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]',
  'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]',
  'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]',
  'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]',
  'f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]',
  'g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]',
  'h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]',
  'i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]',
  '',
].join('\n');

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

async function sourceOrders(): Promise<number> {
  const client = await connect(scene.source.connection);
  try {
    return Number((await client.query('select count(*) from orders')).rows[0].count);
  } finally {
    await client.end();
  }
}

describe('hostile input', () => {
  it('drill files built to hurt are config errors naming file and key, and nothing of them runs', async () => {
    const { workspace } = scene;
    const pwned = join(workspace.directory, 'PWNED');
    const hostile: Record<string, { text: string; problem: RegExp }> = {
      bomb: { text: ALIAS_BOMB, problem: /Excessive alias count .*write the repeated values out/ },
      huge: { text: `# ${'x'.repeat(10 * 1024 * 1024)}\n${drillFile()}`, problem: /is 10 MiB; config and drill files may be at most 1 MiB/ },
      unknown: { text: `${drillFile()}restroe: { sandbox: local }\n`, problem: /restroe: unknown key \(did you mean "restore"\?\)/ },
      types: { text: drillFile().replace('objectives: { rto: 10m, rpo: 26h }', 'objectives: { rto: soon, rpo: [26h] }'), problem: /objectives\.rto: expected a duration like 30s, 10m, 26h or 1h30m, got "soon"/ },
      shell: { text: `name: "orders; touch ${pwned}"\n${drillFile()}`, problem: /name: expected a name of letters, digits/ },
      climb: { text: `name: ../../../tmp/escaped\n${drillFile()}`, problem: /name: expected a name of letters, digits/ },
    };
    for (const [name, { text }] of Object.entries(hostile)) await workspace.writeFile(`drills/${name}.yaml`, text);
    const reportsBefore = await readdir(join(workspace.directory, 'var/reports', DRILL));

    const validated = await scene.cli(['validate']);
    expect(validated.code).toBe(2);
    for (const [name, { problem }] of Object.entries(hostile)) {
      const lines = validated.stderr.split('\n').filter((line) => line.includes(`drills/${name}.yaml`));
      expect(lines.join('\n'), `validate on drills/${name}.yaml:\n${validated.stderr}`).toMatch(problem);
    }
    for (const name of Object.keys(hostile)) {
      const result = await scene.cli(['run', name, '--json']);
      expect(result.code, `run ${name}`).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr, `run ${name}`).toMatch(new RegExp(`^firedrill: invalid configuration.*\\n  drills/${name}\\.yaml: `));
    }
    // Nothing ran: no marker, no report of any run, no new backup, no file outside the workspace.
    expect(await exists(pwned)).toBe(false);
    expect(await exists('/tmp/escaped')).toBe(false);
    expect(await readdir(join(workspace.directory, 'var/reports'))).toEqual([DRILL]);
    expect(await readdir(join(workspace.directory, 'var/reports', DRILL))).toEqual(reportsBefore);
    expect((await scene.backups()).map((entry) => entry.id)).toEqual([scene.earlier.id]);
  });

  it('metacharacters in check names and queries stay text: SQL for the sandbox, escaped in reports, never a shell; the source unchanged', async () => {
    const { workspace } = scene;
    const pwned = join(workspace.directory, 'PWNED');
    const before = await sourceOrders();
    const checks = [
      `  - name: "x'; drop table orders; -- $(touch ${pwned}) <script>alert(1)</script>"`,
      '    type: sql',
      `    query: "select count(*) from orders where '$(touch ${pwned})' <> '\`touch ${pwned}\`' and 'a;b|c&d' <> ''"`,
      '    expect: { min: 1 }',
      '  - { name: nothing lost, type: fingerprint }',
    ].join('\n');
    await scene.writeDrill(drillFile({ checks }));
    const result = await scene.drill();
    const report = reportOf(result);
    expect(report.status, result.stderr.slice(-2000)).toBe('passed');
    expect(report.checks[0]?.name).toContain("x'; drop table orders;");
    expect(await exists(pwned)).toBe(false);
    expect(await sourceOrders()).toBe(before);
    // Written only as escaped text where markup is made.
    const junit = await readFile(join(workspace.directory, 'var/junit.xml'), 'utf8');
    expect(junit).toContain('&lt;script&gt;');
    expect(junit).not.toContain('<script>');
    const html = await scene.cli(['report', 'latest', '--drill', DRILL, '--out', '-']);
    expect(html.stdout).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html.stdout).not.toContain('<script>');
  });
});
