import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DRILL, reportOf, useFaultScene } from '../support/fault-scene.ts';
import { ageObjects } from '../support/s3.ts';
import { createSourceDatabase, drillFile } from '../support/source-database.ts';
import { waitFor } from '../support/wait.ts';

/**
 * Storage faults: the S3 peer down before and during an upload, a bucket that
 * denies writes, an object deleted between listing and download, and a
 * manifest that is not JSON. The scene (fault-scene.ts) checks after each one
 * that the earlier backup is intact, no upload is left open, nothing is left
 * behind and no secret came out.
 */

const scene = useFaultScene();

describe('storage faults', () => {
  it('the S3 peer down before the run: an infrastructure error naming the endpoint, before anything is dumped', async () => {
    await scene.peer.stop();
    try {
      const result = await scene.drill();
      expect(result.code).toBe(2);
      const report = reportOf(result);
      expect(report.status).toBe('error');
      expect(report.error?.message).toMatch(/^HeadBucket on s3:\/\/backups failed \(ECONNREFUSED\)/);
      expect(report.error?.message).toContain(`check the endpoint and region of s3 repository "offsite" at s3://${scene.peer.bucket}/${scene.prefix} and the network`);
      expect(report.phases.map((phase) => phase.name)).not.toContain('backup.dump');
    } finally {
      await scene.peer.start();
    }
    expect((await scene.backups()).map((entry) => [entry.id, entry.status])).toEqual([[scene.earlier.id, 'complete']]);
  });

  it('the S3 peer down in the middle of an upload: nothing committed; repair aborts the upload it left', async () => {
    // A database big enough that its upload takes several 5 MiB parts: random text barely compresses.
    const bigUrl = await createSourceDatabase(
      scene.source,
      'big',
      "create table blobs as select g as id, string_agg(md5(random()::text), '') as body from generate_series(1, 6000) g, generate_series(1, 120) part group by g",
    );
    await scene.writeDrill(drillFile({ checks: '  - { name: rows, type: sql, query: "select count(*) from blobs", expect: { min: 1 } }' }).replace('url: ${SOURCE_URL}', `url: ${bigUrl}`));

    const running = scene.startDrill();
    await waitFor(async () => (await scene.peer.openUploads()).some((upload) => upload.parts > 0), 'the first uploaded part', 60_000);
    await scene.peer.stop();
    const result = await running.result;
    await scene.peer.start();
    expect(result.code).toBe(2);
    const report = reportOf(result);
    expect(report.status).toBe('error');
    expect(report.error?.message).toMatch(new RegExp(`on s3://${scene.peer.bucket}/${scene.prefix}${DRILL}/[0-9TZ-]+[0-9a-f]+/source\\.pgdump\\.zst\\.age failed`));
    // Never listed as a backup: the half-written one has no manifest.
    const listed = await scene.backups();
    expect(listed.filter((entry) => entry.status === 'complete').map((entry) => entry.id)).toEqual([scene.earlier.id]);

    // The crashed writer's marker last spoke ten minutes ago: repair takes it for abandoned.
    await ageObjects(join(scene.peer.directory, scene.peer.bucket, scene.prefix), 10 * 60_000, scene.earlier.id);
    const repaired = await scene.cli(['repair', DRILL]);
    expect(repaired.code, repaired.stderr).toBe(0);
    expect(repaired.stdout).toMatch(/removed incomplete backup/);
    expect((await scene.backups()).map((entry) => [entry.id, entry.status])).toEqual([[scene.earlier.id, 'complete']]);
  });

  it('a bucket that denies writes (403 on PutObject): refused before the dump, naming the action, the key and the permission', async () => {
    scene.peer.denyWrites(true);
    try {
      const result = await scene.drill();
      expect(result.code).toBe(2);
      const report = reportOf(result);
      expect(report.status).toBe('error');
      expect(report.error?.message).toMatch(new RegExp(`^PutObject on s3://${scene.peer.bucket}/${scene.prefix}${DRILL}/\\.write-test-[0-9a-f]+ failed \\(AccessDenied, HTTP 403\\)`));
      expect(report.error?.message).toContain('allow s3:PutObject');
      expect(report.phases.map((phase) => phase.name)).not.toContain('backup.dump');
    } finally {
      scene.peer.denyWrites(false);
    }
  });

  it('an object deleted between listing and download: the drill fails naming the missing object, and restores nothing', async () => {
    const second = reportOf(await scene.drill());
    expect(second.status).toBe('passed');
    const doomed = `${scene.prefix}${DRILL}/${second.backup?.id}/source.pgdump.zst.age`;
    // As if retention on another machine removed the backup after this run had listed it.
    scene.peer.beforeObjectRead(async (key) => {
      if (key === doomed) await scene.peer.deleteObject(key);
    });
    try {
      const result = await scene.drill(['--from-backup', 'latest']);
      expect(result.code).toBe(1);
      const report = reportOf(result);
      expect(report.status).toBe('failed');
      expect(report.backup?.id).toBe(second.backup?.id);
      expect(report.error?.message).toContain(`object source.pgdump.zst.age of backup ${second.backup?.id} is missing`);
      expect(report.error?.message).toContain(`s3://${scene.peer.bucket}/${doomed}`);
      expect(report.phases.map((phase) => phase.name)).not.toContain('restore.load');
    } finally {
      scene.peer.beforeObjectRead(undefined);
    }
  });

  it('a whole backup deleted between listing and download (retention elsewhere): an infrastructure error, not a damaged backup', async () => {
    const second = reportOf(await scene.drill());
    expect(second.status).toBe('passed');
    const prefix = `${scene.prefix}${DRILL}/${second.backup?.id}/`;
    scene.peer.beforeObjectRead(async (key) => {
      if (key === `${prefix}source.pgdump.zst.age`) {
        for (const name of ['manifest.json', 'source.pgdump.zst.age']) await scene.peer.deleteObject(`${prefix}${name}`);
      }
    });
    try {
      const result = await scene.drill(['--from-backup', 'latest']);
      expect(result.code).toBe(2);
      const report = reportOf(result);
      expect(report.status).toBe('error');
      expect(report.error?.kind).toBe('repository');
      expect(report.error?.message).toContain(`backup ${second.backup?.id} of drill "orders" was deleted from s3 repository "offsite"`);
      expect(report.error?.message).toContain('while this run was reading it (retention or a prune on another machine?); nothing was restored');
    } finally {
      scene.peer.beforeObjectRead(undefined);
    }
  });

  it('a manifest that is not valid JSON: the backup is listed as invalid, and drilling it fails instead of falling back to an older one', async () => {
    const second = reportOf(await scene.drill());
    expect(second.status).toBe('passed');
    await writeFile(join(scene.peer.directory, scene.peer.bucket, `${scene.prefix}${DRILL}/${second.backup?.id}/manifest.json._S3rver_object`), '{"formatVersion": 1, "backupId": ');

    const listed = await scene.backups();
    const damaged = listed.find((entry) => entry.id === second.backup?.id);
    expect(damaged?.status).toBe('invalid');
    expect(damaged?.problem).toMatch(/manifest .*manifest\.json is not valid JSON/);

    const result = await scene.drill(['--from-backup', 'latest']);
    expect(result.code).toBe(1);
    const report = reportOf(result);
    expect(report.status).toBe('failed');
    expect(report.error?.message).toMatch(/is not valid JSON .*the backup cannot be trusted or restored/);
  });
});
