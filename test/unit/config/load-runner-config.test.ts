import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadRunnerConfig } from '../../../src/config/load.ts';
import { ConfigError } from '../../../src/errors.ts';
import { createRepository } from '../../../src/repository/registry.ts';
import { createDrillFolder, type DrillFolder } from './drill-folder.ts';

let folder: DrillFolder;

beforeEach(async () => {
  folder = await createDrillFolder();
});
afterEach(async () => {
  await folder.remove();
});

describe('loadRunnerConfig', () => {
  it('runs on embedded defaults when config/firedrill.yaml does not exist', async () => {
    const runner = await loadRunnerConfig(undefined, { cwd: folder.directory, env: {} });

    expect(runner).toMatchObject({
      file: undefined,
      cwd: folder.directory,
      repositories: { local: { type: 'local', path: './var/backups' } },
      defaults: { repository: 'local', sandbox: 'auto' },
      reportsDirectory: join(folder.directory, 'var/reports'),
      logLevel: undefined,
    });
    expect(runner.sandboxes.local).toMatchObject({ type: 'local' });
  });

  it('resolves the default local repository against the working directory', async () => {
    const runner = await loadRunnerConfig(undefined, { cwd: folder.directory, env: {} });

    const repository = createRepository('local', runner.repositories.local!, { cwd: runner.cwd });

    expect(repository.describe()).toBe(`local repository "local" at ${join(folder.directory, 'var/backups')}`);
  });

  it('reads config/firedrill.yaml when it exists', async () => {
    await folder.write('config/firedrill.yaml', 'repositories:\n  offsite: { type: local, path: /srv/backups }\nreports: { dir: out/reports }\nlogging: { level: debug }\n');

    const runner = await loadRunnerConfig(undefined, { cwd: folder.directory, env: {} });

    expect(runner.file).toBe('config/firedrill.yaml');
    expect(runner.repositories).toEqual({ offsite: { type: 'local', path: '/srv/backups', compression: 'zstd' } });
    // With a single repository, drills that name none use it.
    expect(runner.defaults.repository).toBe('offsite');
    expect(runner.reportsDirectory).toBe(join(folder.directory, 'out/reports'));
    expect(runner.logLevel).toBe('debug');
  });

  it('throws a ConfigError when a --config path given explicitly does not exist', async () => {
    const loading = loadRunnerConfig('elsewhere/firedrill.yaml', { cwd: folder.directory, env: {} });

    await expect(loading).rejects.toBeInstanceOf(ConfigError);
    await expect(loading).rejects.toMatchObject({
      problems: [{ file: 'elsewhere/firedrill.yaml', path: '', message: 'cannot read the file (ENOENT)' }],
    });
  });

  it('throws a ConfigError carrying every problem of an invalid runner config', async () => {
    await folder.write('config/firedrill.yaml', 'reports: { dir: 5 }\nlogging: { level: loud }\n');

    const loading = loadRunnerConfig(undefined, { cwd: folder.directory, env: {} });

    await expect(loading).rejects.toMatchObject({
      problems: [
        { file: 'config/firedrill.yaml', path: 'reports.dir', message: 'expected a string, got 5' },
        { file: 'config/firedrill.yaml', path: 'logging.level', message: expect.stringMatching(/^expected one of "fatal", "error", .* got "loud"$/) },
      ],
    });
  });

  it('rejects a default repository that is not configured', async () => {
    await folder.write('config/firedrill.yaml', 'defaults: { repository: nowhere }\n');

    await expect(loadRunnerConfig(undefined, { cwd: folder.directory, env: {} })).rejects.toMatchObject({
      problems: [{ file: 'config/firedrill.yaml', path: 'defaults.repository', message: 'names "nowhere", which is not in repositories (local)' }],
    });
  });

  it('keeps the type of a built-in sandbox configured anew, so auto always chooses between docker and local', async () => {
    await folder.write('config/firedrill.yaml', 'sandboxes:\n  docker: { type: auto }\n  local: { type: local, startTimeout: 2m }\n');

    await expect(loadRunnerConfig(undefined, { cwd: folder.directory, env: {} })).rejects.toMatchObject({
      problems: [
        {
          file: 'config/firedrill.yaml',
          path: 'sandboxes.docker.type',
          message: 'must be "docker" for the built-in sandbox "docker"; give a sandbox of type auto another name',
        },
      ],
    });
  });
});
