import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RepositoryError } from '../../../src/errors.ts';
import { LocalRepository } from '../../../src/repository/local-repository.ts';
import { MANIFEST_FORMAT_VERSION, type Manifest } from '../../../src/repository/manifest.ts';

const DUMP = 'pretend this is a pg_dump archive\n';

let workspace: string;
let repository: LocalRepository;

beforeEach(async () => {
  workspace = await mkdtemp(join(tmpdir(), 'firedrill-unit-repository-'));
  repository = new LocalRepository('local', { type: 'local', compression: 'none', path: 'var/backups' }, { cwd: workspace });
});
afterEach(async () => {
  await rm(workspace, { recursive: true, force: true });
});

function manifestFor(backupId: string): Manifest {
  return {
    formatVersion: MANIFEST_FORMAT_VERSION,
    backupId,
    drill: 'orders',
    createdAt: '2024-05-01T02:00:00.000Z',
    completedAt: '2024-05-01T02:01:00.000Z',
    firedrillVersion: '0.1.0',
    targets: [
      { name: 'source', engine: 'postgres', snapshotAt: '2024-05-01T02:00:01.000Z', snapshotAtLocal: '2024-05-01T02:00:01.000Z', metadata: {} },
    ],
    objects: [{ name: 'source.dump', target: 'source', sizeBytes: DUMP.length, sha256: createHash('sha256').update(DUMP).digest('hex') }],
  };
}

async function completeBackup(backupId: string): Promise<void> {
  const writer = await repository.startBackup('orders', backupId);
  await writer.writeObject('source.dump', Readable.from([DUMP]), new AbortController().signal);
  await writer.commit(manifestFor(backupId));
}

const modeOf = async (path: string) => (await stat(path)).mode & 0o777;
const backupDirectory = (backupId: string) => join(workspace, 'var/backups/orders', backupId);

describe('LocalRepository', () => {
  it('resolves its root against the working directory', () => {
    expect(repository.root).toBe(join(workspace, 'var/backups'));
  });

  it('lists a committed backup as complete, with its manifest', async () => {
    await completeBackup('20240501T020000Z-a1b2');

    const [entry, ...rest] = await repository.listBackups('orders');

    expect(rest).toEqual([]);
    expect(entry).toMatchObject({ backupId: '20240501T020000Z-a1b2', status: 'complete', manifest: manifestFor('20240501T020000Z-a1b2') });
    expect(entry?.modifiedAt).toBeInstanceOf(Date);
    expect(await text(await repository.readObject('orders', '20240501T020000Z-a1b2', 'source.dump'))).toBe(DUMP);
  });

  it('lists backups newest first', async () => {
    await completeBackup('20240501T020000Z-aaaa');
    await completeBackup('20240503T020000Z-cccc');
    await completeBackup('20240502T020000Z-bbbb');

    expect((await repository.listBackups('orders')).map((entry) => entry.backupId)).toEqual([
      '20240503T020000Z-cccc',
      '20240502T020000Z-bbbb',
      '20240501T020000Z-aaaa',
    ]);
  });

  it('lists nothing for a drill that has no backups yet', async () => {
    expect(await repository.listBackups('orders')).toEqual([]);
  });

  it('lists a backup without a manifest as incomplete, and readManifest explains why it cannot be restored', async () => {
    const writer = await repository.startBackup('orders', 'half-done');
    await writer.writeObject('source.dump', Readable.from([DUMP]), new AbortController().signal);

    expect(await repository.listBackups('orders')).toEqual([
      { backupId: 'half-done', status: 'incomplete', abandoned: false, problem: expect.stringMatching(/^being written by pid \d+ on /), modifiedAt: expect.any(Date) },
    ]);
    // Its writer (this process) is alive: it is work in progress, not debris.
    expect(await repository.removeAbandoned('orders')).toEqual({ removed: [], abortedUploads: [], problems: [], warnings: [] });
    await expect(repository.readManifest('orders', 'half-done')).rejects.toThrow(
      `backup half-done of drill "orders" has no manifest in local repository "local" at ${join(workspace, 'var/backups')}: it is incomplete and cannot be restored`,
    );
  });

  /** Rewrites a backup's in-progress marker as if another writer had left it `minutesAgo` minutes ago. */
  async function leftBehind(backupId: string, minutesAgo: number, owner: Record<string, unknown>): Promise<void> {
    const marker = join(backupDirectory(backupId), '.in-progress');
    await writeFile(marker, JSON.stringify({ ...JSON.parse(await readFile(marker, 'utf8')), ...owner }));
    const then = new Date(Date.now() - minutesAgo * 60_000);
    await utimes(marker, then, then);
  }

  it('removes an incomplete backup whose writer on this machine died some minutes ago, and only that one', async () => {
    await repository.startBackup('orders', 'running');
    await repository.startBackup('orders', 'orphan');
    await repository.startBackup('orders', 'just-died');
    // A pid that does not exist: the writer died without cleaning up.
    await leftBehind('orphan', 10, { pid: 2 ** 22 + 1 });
    // Dead too, but its marker was touched a moment ago: too soon to be sure.
    await leftBehind('just-died', 0, { pid: 2 ** 22 + 1 });

    expect((await repository.listBackups('orders')).map((entry) => [entry.backupId, entry.abandoned])).toEqual([
      ['running', false],
      ['orphan', true],
      ['just-died', false],
    ]);
    expect(await repository.removeAbandoned('orders')).toEqual({ removed: ['orphan'], abortedUploads: [], problems: [], warnings: [] });
    expect((await repository.listBackups('orders')).map((entry) => entry.backupId)).toEqual(['running', 'just-died']);
  });

  it('judges a backup written from another machine only by how long its marker has not been touched', async () => {
    await repository.startBackup('orders', 'elsewhere-busy');
    await repository.startBackup('orders', 'elsewhere-dead');
    // Same hostname and pid numbers mean nothing across machines: only the heartbeat counts.
    await leftBehind('elsewhere-busy', 30, { pid: 2 ** 22 + 1, machineId: 'another-machine' });
    await leftBehind('elsewhere-dead', 90, { pid: 1, machineId: 'another-machine' });

    expect(await repository.removeAbandoned('orders')).toEqual({ removed: ['elsewhere-dead'], abortedUploads: [], problems: [], warnings: [] });
  });

  it('lists a backup whose manifest is not JSON as invalid, with the problem', async () => {
    await mkdir(backupDirectory('garbled'), { recursive: true });
    await writeFile(join(backupDirectory('garbled'), 'manifest.json'), '{ not json');

    const [entry] = await repository.listBackups('orders');

    expect(entry).toMatchObject({ backupId: 'garbled', status: 'invalid' });
    expect(entry?.problem).toMatch(/^manifest .*garbled\/manifest\.json is not valid JSON \(.*\); the backup cannot be trusted or restored$/);
  });

  it('lists a backup whose manifest is JSON but not a firedrill manifest as invalid', async () => {
    await mkdir(backupDirectory('foreign'), { recursive: true });
    await writeFile(join(backupDirectory('foreign'), 'manifest.json'), '{"formatVersion": 99}');

    const [entry] = await repository.listBackups('orders');

    expect(entry).toMatchObject({ backupId: 'foreign', status: 'invalid', problem: expect.stringContaining('is not a valid firedrill manifest') });
  });

  it('removes everything written when a backup is aborted', async () => {
    const writer = await repository.startBackup('orders', 'doomed');
    await writer.writeObject('source.dump', Readable.from([DUMP]), new AbortController().signal);

    await writer.abort();
    await writer.abort();

    expect(await readdir(join(workspace, 'var/backups/orders'))).toEqual([]);
    expect(await repository.listBackups('orders')).toEqual([]);
  });

  it('keeps a committed backup when abort() is called afterwards, as a finally block would', async () => {
    const writer = await repository.startBackup('orders', 'kept');
    await writer.writeObject('source.dump', Readable.from([DUMP]), new AbortController().signal);
    await writer.commit(manifestFor('kept'));

    await writer.abort();

    expect((await repository.listBackups('orders')).map((entry) => [entry.backupId, entry.status])).toEqual([['kept', 'complete']]);
  });

  it('writes the manifest as the exact JSON it was given, with nothing left over from the atomic rename', async () => {
    await completeBackup('exact');

    expect(JSON.parse(await readFile(join(backupDirectory('exact'), 'manifest.json'), 'utf8'))).toEqual(manifestFor('exact'));
    expect((await readdir(backupDirectory('exact'))).sort()).toEqual(['manifest.json', 'source.dump']);
  });

  it('refuses names that could climb out of the repository', async () => {
    const writer = await repository.startBackup('orders', 'safe');
    const signal = new AbortController().signal;

    await expect(repository.startBackup('orders', '../escape')).rejects.toThrow(RepositoryError);
    await expect(repository.startBackup('..', 'x')).rejects.toThrow('invalid drill name ".."');
    await expect(repository.startBackup('orders', 'a..b')).rejects.toThrow('invalid backup id "a..b"');
    await expect(writer.writeObject('sub/dir.dump', Readable.from([DUMP]), signal)).rejects.toThrow('invalid object name "sub/dir.dump"');
    await expect(repository.readManifest('orders', '/etc')).rejects.toThrow(RepositoryError);
    await expect(repository.readObject('orders', 'safe', '../../../etc/passwd')).rejects.toThrow(RepositoryError);
    expect(() => repository.localObjectPath('orders', 'safe', '..')).toThrow(RepositoryError);
  });

  it('refuses manifest.json as an object name, so no object can pose as the manifest', async () => {
    const writer = await repository.startBackup('orders', 'sneaky');

    await expect(writer.writeObject('manifest.json', Readable.from(['{}']), new AbortController().signal)).rejects.toThrow('"manifest.json" is reserved');
  });

  it('writes objects and the manifest as 0600 and directories as 0700: a backup holds all of a database', async () => {
    await completeBackup('private');

    expect(await modeOf(join(workspace, 'var/backups/orders'))).toBe(0o700);
    expect(await modeOf(backupDirectory('private'))).toBe(0o700);
    expect(await modeOf(join(backupDirectory('private'), 'source.dump'))).toBe(0o600);
    expect(await modeOf(join(backupDirectory('private'), 'manifest.json'))).toBe(0o600);
  });

  it('passes preflight on a writable root and leaves no probe file behind', async () => {
    await repository.preflight('orders');

    expect(await readdir(join(workspace, 'var/backups/orders'))).toEqual([]);
  });

  it('fails preflight with a message naming the path when the root is not a writable directory', async () => {
    await mkdir(join(workspace, 'var'));
    await writeFile(join(workspace, 'var/backups'), 'a regular file, not a directory');

    const preflight = repository.preflight('orders');

    await expect(preflight).rejects.toThrow(RepositoryError);
    await expect(preflight).rejects.toThrow(
      `cannot write to local repository "local" at ${join(workspace, 'var/backups')} (ENOTDIR at ${join(workspace, 'var/backups/orders')}); check that the path exists on a writable volume and firedrill may write there`,
    );
  });

  it('refuses to start a backup whose id already exists', async () => {
    await completeBackup('taken');

    await expect(repository.startBackup('orders', 'taken')).rejects.toThrow(/cannot create backup directory .*taken/);
  });
});
