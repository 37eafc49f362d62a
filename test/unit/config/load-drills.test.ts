import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDrillFolder, VALID_SOURCE, type DrillFolder } from './drill-folder.ts';

let folder: DrillFolder;

beforeEach(async () => {
  folder = await createDrillFolder();
});
afterEach(async () => {
  await folder.remove();
});

describe('loadDrills', () => {
  it('loads a valid drill with its defaults filled in', async () => {
    await folder.write('drills/orders.yaml', `${VALID_SOURCE}checks:\n  - { name: orders exist, type: sql, query: "select count(*) from orders", expect: { min: 1 } }\n`);

    const loaded = await folder.load();

    expect(loaded.problems.size).toBe(0);
    expect(loaded.drills).toHaveLength(1);
    expect(loaded.drills[0]).toMatchObject({
      name: 'orders',
      file: 'drills/orders.yaml',
      backup: { repository: 'local', jobs: 1, lockWaitTimeout: 600_000 },
      restore: { sandbox: 'auto', privileges: 'restore' },
      checks: [{ name: 'orders exist', type: 'sql', timeout: 60_000, expect: { min: 1 } }],
    });
  });

  it('names the file, the key path and what was expected, and shows the wrong value', async () => {
    await folder.write(
      'drills/orders.yaml',
      `${VALID_SOURCE}checks:
  - { name: first, type: sql, query: "select true" }
  - { name: second, type: sql, query: "select true" }
  - { name: third, type: sql, query: "select count(*) from orders", expect: { min: ten } }
`,
    );

    expect(await folder.problemLines('orders')).toEqual(['drills/orders.yaml: checks[2].expect.min: expected a number, got "ten"']);
  });

  it('reports every problem in a file at once, not just the first', async () => {
    await folder.write(
      'drills/orders.yaml',
      `${VALID_SOURCE}description: 5
backup: { jobs: zero, lockWaitTimeout: soon }
restore: { privileges: maybe }
`,
    );

    expect(await folder.problemLines('orders')).toEqual([
      'drills/orders.yaml: description: expected a string, got 5',
      'drills/orders.yaml: backup.jobs: expected a number, got "zero"',
      'drills/orders.yaml: backup.lockWaitTimeout: expected a duration like 30s, 10m, 26h or 1h30m, got "soon"',
      'drills/orders.yaml: restore.privileges: expected "restore" or "skip", got "maybe"',
    ]);
  });

  it('rejects an unknown key and suggests the key that was probably meant', async () => {
    await folder.write('drills/orders.yaml', `${VALID_SOURCE}checks:\n  - { type: sql, qeury: "select true" }\n`);

    expect(await folder.problemLines('orders')).toContain('drills/orders.yaml: checks[0].qeury: unknown key (did you mean "query"?)');
  });

  it('lists the allowed keys when an unknown key is not close to any of them', async () => {
    await folder.write('drills/orders.yaml', `${VALID_SOURCE}zzz: 1\n`);

    const [line] = await folder.problemLines('orders');
    expect(line).toMatch(/^drills\/orders\.yaml: zzz: unknown key \(expected one of: name, description, source, targets, backup, restore, checks, objectives, retention, schedule, timezone, notify\)$/);
  });

  it('rejects an unsupported check type and lists the supported ones', async () => {
    await folder.write('drills/orders.yaml', `${VALID_SOURCE}checks:\n  - { type: bogus }\n`);

    expect(await folder.problemLines('orders')).toEqual(['drills/orders.yaml: checks[0].type: unsupported type "bogus" (expected one of: sql, fingerprint, freshness, files, command, references)']);
  });

  it('reports an invalid cron schedule with the field that is wrong', async () => {
    await folder.write('drills/orders.yaml', `${VALID_SOURCE}schedule: "61 * * * *"\n`);

    expect(await folder.problemLines('orders')).toEqual([
      'drills/orders.yaml: schedule: expected a cron expression (minute hour day-of-month month day-of-week): minute "61" is invalid',
    ]);
  });

  it('accepts a valid cron schedule', async () => {
    await folder.write('drills/orders.yaml', `${VALID_SOURCE}schedule: "0 3 * * *"\n`);

    const loaded = await folder.load();
    expect(loaded.problems.size).toBe(0);
    expect(loaded.drills[0]?.schedule).toBe('0 3 * * *');
  });

  it('reports a drill that names a repository the runner config does not have', async () => {
    await folder.write('drills/orders.yaml', `${VALID_SOURCE}backup: { repository: elsewhere }\n`);

    const loaded = await folder.load();
    expect(loaded.drills).toEqual([]);
    expect(loaded.problems.get('orders')).toEqual([
      { file: 'drills/orders.yaml', path: 'backup.repository', message: 'names "elsewhere", which is not a repository in the embedded defaults (local)' },
    ]);
  });

  it('reports restore.image on a drill that restores into a local cluster, where no image applies', async () => {
    await folder.write('drills/orders.yaml', `${VALID_SOURCE}restore: { sandbox: local, image: "postgis/postgis:16-3.4" }\n`);

    const loaded = await folder.load();
    expect(loaded.problems.get('orders')).toEqual([
      {
        file: 'drills/orders.yaml',
        path: 'restore.image',
        message: 'is for a docker sandbox, and "local" is a local cluster; set restore.sandbox: docker (or auto)',
      },
    ]);
  });

  it('reports two checks with the same name', async () => {
    await folder.write('drills/orders.yaml', `${VALID_SOURCE}checks:\n  - { name: same, type: sql, query: "select true" }\n  - { name: same, type: fingerprint }\n`);

    expect(await folder.problemLines('orders')).toEqual(['drills/orders.yaml: checks[1].name: "same" is also the name of checks[0]; check names must be unique']);
  });

  it('reports two unnamed checks of the same type, since both default to the type as their name', async () => {
    await folder.write('drills/orders.yaml', `${VALID_SOURCE}checks:\n  - { type: fingerprint }\n  - { type: fingerprint }\n`);

    expect(await folder.problemLines('orders')).toEqual([
      'drills/orders.yaml: checks[1].name: "fingerprint" is also the name of checks[0]; check names must be unique',
    ]);
  });

  it('reports a YAML syntax error with its line and column', async () => {
    await folder.write('drills/orders.yaml', `description: first\ndescription: second\n${VALID_SOURCE}`);

    expect(await folder.problemLines('orders')).toEqual(['drills/orders.yaml: line 2, column 1: invalid YAML: Map keys must be unique']);
  });

  it('keeps loading the other drills when one of them has problems', async () => {
    await folder.write('drills/broken.yaml', `${VALID_SOURCE}backup: { jobs: 0 }\n`);
    await folder.write('drills/orders.yaml', VALID_SOURCE);

    const loaded = await folder.load();
    expect(loaded.drills.map((drill) => drill.name)).toEqual(['orders']);
    expect([...loaded.problems.keys()]).toEqual(['broken']);
  });

  it('reports a missing ${VAR} at the key that uses it', async () => {
    await folder.write('drills/orders.yaml', 'source: { type: postgres, url: "${ORDERS_URL}" }\n');

    expect(await folder.problemLines('orders')).toEqual([
      'drills/orders.yaml: source.url: environment variable ORDERS_URL is not set (used as ${ORDERS_URL}; set it, or write ${ORDERS_URL:-default})',
    ]);
  });
});

describe('loadDrills with hostile files', () => {
  it('refuses a YAML alias bomb as a config problem, quickly, instead of expanding it', async () => {
    const levels = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (const [index, name] of ['b', 'c', 'd', 'e', 'f', 'g', 'h'].entries()) {
      const previous = String.fromCharCode('a'.charCodeAt(0) + index);
      levels.push(`${name}: &${name} [${Array(9).fill(`*${previous}`).join(',')}]`);
    }
    await folder.write('drills/bomb.yaml', `${levels.join('\n')}\n${VALID_SOURCE}`);
    const started = Date.now();

    const [line] = await folder.problemLines('bomb');

    expect(line).toMatch(/^drills\/bomb\.yaml: cannot be read as YAML: .*alias.*; write the repeated values out instead of nesting aliases$/);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('refuses a file of more than 1 MiB before reading it', async () => {
    await folder.write('drills/big.yaml', `description: "${'x'.repeat(10 * 1024 * 1024)}"\n${VALID_SOURCE}`);

    expect(await folder.problemLines('big')).toEqual(['drills/big.yaml: is 10 MiB; config and drill files may be at most 1 MiB (is this the right file?)']);
  });

  it('refuses names that could reach a path or a shell, before anything runs', async () => {
    await folder.write('drills/evil.yaml', `name: "../../etc; rm -rf /"\n${VALID_SOURCE}`);

    const loaded = await folder.load();

    expect(loaded.drills).toEqual([]);
    expect([...loaded.problems.values()].flat().map((problem) => `${problem.file}: ${problem.path}`)).toContain('drills/evil.yaml: name');
  });
});
