import { describe, expect, it } from 'vitest';
import { useWorkspace } from '../support/lifecycle.ts';

/** Config problems are usage errors: exit 2, every problem listed with file and key path, nothing started. */


const context = useWorkspace();

const MALFORMED = `
source:
  type: postgres
  url: postgres://backup@db.internal/orders
  password: { env: ORDERS_DB_PASSWORD }
backup: { jobs: zero }
checks:
  - { name: orders exist, type: sql, query: "select count(*) from orders", expect: { min: 1 } }
  - { name: typo, type: sql, qeury: "select 1" }
  - { name: ten, type: sql, query: "select 10", expect: { min: "ten" } }
  - { type: checksum }
objectives: { rto: soon }
schedule: "61 3 * * *"
`;

describe('firedrill with a malformed drill file', () => {
  it('exits 2 from run and lists every problem with its file and key path', async () => {
    await context.workspace.writeFile('drills/orders.yaml', MALFORMED);
    const result = await context.workspace.run(['run', 'orders']);
    expect(result.code).toBe(2);
    const problems = result.stderr.split('\n').filter((line) => line.startsWith('  drills/orders.yaml: '));
    expect(problems).toEqual(
      expect.arrayContaining([
        '  drills/orders.yaml: backup.jobs: expected a number, got "zero"',
        '  drills/orders.yaml: checks[1].qeury: unknown key (did you mean "query"?)',
        '  drills/orders.yaml: checks[1].query: is required (expected a string)',
        '  drills/orders.yaml: checks[2].expect.min: expected a number, got "ten"',
        '  drills/orders.yaml: checks[3].type: unsupported type "checksum" (expected one of: sql, fingerprint, freshness, files, command, references)',
        '  drills/orders.yaml: objectives.rto: expected a duration like 30s, 10m, 26h or 1h30m, got "soon"',
        expect.stringMatching(/^ {2}drills\/orders\.yaml: schedule: expected a cron expression .*minute "61" is invalid/),
        expect.stringMatching(/^ {2}drills\/orders\.yaml: source\.password: environment variable ORDERS_DB_PASSWORD is not set/),
      ]),
    );
    expect(result.stderr).toMatch(/invalid configuration \(\d+ problems\)/);
    expect(result.stdout).toBe('');
  });

  it('exits 2 from validate, reporting the broken drill and passing the good one', async () => {
    await context.workspace.writeFile('drills/orders.yaml', MALFORMED);
    await context.workspace.writeFile(
      'drills/good.yaml',
      'source: { type: postgres, url: "postgres://backup@db.internal/app", password: { env: APP_PASSWORD } }\n',
    );
    const result = await context.workspace.run(['validate'], { APP_PASSWORD: 'not-used-here' });
    expect(result.code).toBe(2);
    expect(result.stdout).toContain('embedded defaults (no config file): ok');
    expect(result.stdout).toContain('drills/good.yaml: ok (drill "good", 0 checks)');
    expect(result.stderr).toContain('drills/orders.yaml: checks[2].expect.min: expected a number, got "ten"');
    expect(result.stderr).toMatch(/\d+ problems found/);
  });

  it('reports a YAML syntax error with its line and column', async () => {
    await context.workspace.writeFile('drills/orders.yaml', 'source:\n  type: postgres\n  url: [unclosed\n');
    const result = await context.workspace.run(['validate']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/drills\/orders\.yaml: line \d+, column \d+: invalid YAML/);
  });

  it('reports problems in config/firedrill.yaml the same way', async () => {
    await context.workspace.writeFile('config/firedrill.yaml', 'repositories:\n  offsite: { type: ftp, path: /x }\nreports: { directory: ./r }\n');
    const result = await context.workspace.run(['list']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('config/firedrill.yaml: repositories.offsite.type: unsupported type "ftp" (expected one of: local, s3)');
    expect(result.stderr).toContain('config/firedrill.yaml: reports.directory: unknown key (expected one of: dir)');
  });

  it('exits 2 naming the drills there are when asked for an unknown one', async () => {
    await context.workspace.writeFile('drills/orders.yaml', 'source: { type: postgres, url: "postgres://backup@db.internal/app" }\n');
    const result = await context.workspace.run(['run', 'ordrs']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('unknown drill "ordrs"');
    expect(result.stderr).toContain('(drills: orders)');
  });

  it('exits 2 when an explicitly given config file does not exist', async () => {
    const result = await context.workspace.run(['--config', 'nowhere.yaml', 'list']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('nowhere.yaml: cannot read the file (ENOENT)');
  });

  it('lists drills without needing their secrets, and marks invalid ones', async () => {
    await context.workspace.writeFile(
      'drills/orders.yaml',
      'source: { type: postgres, url: "postgres://backup@db.internal/orders", password: { env: NOT_SET_HERE } }\nschedule: "0 3 * * *"\n',
    );
    await context.workspace.writeFile('drills/broken.yaml', 'source: { type: mysql }\n');
    const result = await context.workspace.run(['list']);
    expect(result.code).toBe(2);
    expect(result.stdout).toMatch(/orders\s+0 3 \* \* \*\s+postgres:\/\/backup@db\.internal:5432\/orders\s+never/);
    expect(result.stdout).toMatch(/broken\s+-\s+-\s+-\s+invalid: source.type: unsupported type "mysql"/);
  });
});
