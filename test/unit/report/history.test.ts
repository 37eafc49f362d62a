import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalRepository } from '../../../src/repository/local-repository.ts';
import { findReport, readHistory, readRecentReports, readRunsUpTo } from '../../../src/report/history.ts';
import type { Repository } from '../../../src/interfaces.ts';

/**
 * History is the union of this machine's reports and those kept in the
 * drill's repository (runs made on other hosts), newest first by run id,
 * read lazily, with unreadable reports skipped and said.
 */

let workspace: string;
let reportsDirectory: string;
let repository: LocalRepository;

beforeEach(async () => {
  workspace = await mkdtemp(join(tmpdir(), 'firedrill-unit-history-'));
  reportsDirectory = join(workspace, 'var/reports');
  repository = new LocalRepository('shared', { type: 'local', compression: 'none', path: 'shared' }, { cwd: workspace });
});
afterEach(async () => {
  await rm(workspace, { recursive: true, force: true });
});

function reportJson(runId: string, status = 'passed', host = 'here'): string {
  return JSON.stringify({ schemaVersion: 1, drill: 'orders', runId, status, startedAt: '2026-11-26T00:00:00.000Z', host, measured: { rtoSeconds: 1 }, phases: [], checks: [] });
}

async function writeLocal(runId: string, text = reportJson(runId)): Promise<void> {
  await mkdir(join(reportsDirectory, 'orders'), { recursive: true });
  await writeFile(join(reportsDirectory, 'orders', `${runId}.json`), text);
}

const ids = (reports: { runId: string }[]) => reports.map((report) => report.runId);

describe('readHistory', () => {
  it('merges local reports with those kept in the repository, newest first, each run once', async () => {
    await writeLocal('20261101T000000Z-aaaaaa');
    await writeLocal('20261103T000000Z-cccccc');
    // Run on this machine: kept in both places. Run elsewhere: only in the repository.
    await repository.saveRunResult('orders', '20261103T000000Z-cccccc', reportJson('20261103T000000Z-cccccc'));
    await repository.saveRunResult('orders', '20261102T000000Z-bbbbbb', reportJson('20261102T000000Z-bbbbbb', 'failed', 'elsewhere'));

    const { reports, problems } = await readRecentReports({ reportsDirectory, repository }, 'orders', 10);

    expect(ids(reports)).toEqual(['20261103T000000Z-cccccc', '20261102T000000Z-bbbbbb', '20261101T000000Z-aaaaaa']);
    expect(reports[1]).toMatchObject({ status: 'failed', host: 'elsewhere' });
    expect(problems).toEqual([]);
  });

  it('reads only what the caller takes', async () => {
    const reads: string[] = [];
    const counting: Repository = Object.assign(Object.create(repository) as LocalRepository, {
      listRunIds: (drill: string) => repository.listRunIds(drill),
      readRunResult: (drill: string, runId: string) => {
        reads.push(runId);
        return repository.readRunResult(drill, runId);
      },
    });
    for (const day of ['01', '02', '03', '04']) await repository.saveRunResult('orders', `202611${day}T000000Z-aaaaaa`, reportJson(`202611${day}T000000Z-aaaaaa`));

    const { reports } = await readRecentReports({ reportsDirectory, repository: counting }, 'orders', 2);

    expect(ids(reports)).toEqual(['20261104T000000Z-aaaaaa', '20261103T000000Z-aaaaaa']);
    expect(reads).toEqual(['20261104T000000Z-aaaaaa', '20261103T000000Z-aaaaaa']);
  });

  it('skips and names reports that are damaged, misplaced, cut down, or from a newer firedrill', async () => {
    await writeLocal('20261101T000000Z-aaaaaa');
    await writeLocal('20261102T000000Z-bbbbbb', '{"drill": "orders", "runId": "20261102T0');
    await writeLocal('20261103T000000Z-cccccc', reportJson('20261101T000000Z-aaaaaa'));
    await writeLocal('20261104T000000Z-dddddd', JSON.stringify({ schemaVersion: 1, drill: 'orders', runId: '20261104T000000Z-dddddd', status: 'passed' }));
    await writeLocal('20261105T000000Z-eeeeee', reportJson('20261105T000000Z-eeeeee').replace('"schemaVersion":1', '"schemaVersion":2'));
    // Not a run id: a file someone put there is not history (it would sort above every run).
    await writeLocal('manual-notes', reportJson('manual-notes'));

    const history = readHistory({ reportsDirectory }, 'orders');
    const reports = [];
    for await (const report of history.reports) reports.push(report);

    expect(ids(reports)).toEqual(['20261101T000000Z-aaaaaa']);
    const where = join(reportsDirectory, 'orders');
    expect(history.problems).toEqual([
      `the report of run 20261105T000000Z-eeeeee in ${where} has report schema 2, and this firedrill reads up to 1 (upgrade firedrill to read it); skipped`,
      `the report of run 20261104T000000Z-dddddd in ${where} lacks startedAt, measured, phases, checks; skipped`,
      `the report of run 20261103T000000Z-cccccc in ${where} belongs to drill orders, run 20261101T000000Z-aaaaaa; skipped`,
      expect.stringMatching(/^the report of run 20261102T000000Z-bbbbbb in .+ is not valid JSON \(.+\); skipped$/),
    ]);
  });

  it('stops asking a repository that failed a read, and goes on with this machine\'s reports', async () => {
    await writeLocal('20261101T000000Z-aaaaaa');
    for (const day of ['02', '03', '04']) await repository.saveRunResult('orders', `202611${day}T000000Z-aaaaaa`, reportJson(`202611${day}T000000Z-aaaaaa`));
    let reads = 0;
    const failing: Repository = Object.assign(Object.create(repository) as LocalRepository, {
      listRunIds: (drill: string) => repository.listRunIds(drill),
      readRunResult: () => {
        reads += 1;
        return Promise.reject(new Error('connection reset'));
      },
      describe: () => 's3 repository "offsite"',
    });

    const { reports, problems } = await readRecentReports({ reportsDirectory, repository: failing }, 'orders', 10);

    expect(ids(reports)).toEqual(['20261101T000000Z-aaaaaa']);
    expect(reads).toBe(1);
    expect(problems).toEqual([
      'could not read the report of run 20261104T000000Z-aaaaaa from s3 repository "offsite": connection reset',
      `reading no more reports from s3 repository "offsite" for now; showing this machine's reports only`,
    ]);
  });

  it('gives the history as it was at a run: that run and the ones before it', async () => {
    for (const day of ['01', '02', '03', '04']) await writeLocal(`202611${day}T000000Z-aaaaaa`);

    const { reports } = await readRunsUpTo({ reportsDirectory }, 'orders', '20261102T000000Z-aaaaaa', 30);

    expect(ids(reports)).toEqual(['20261102T000000Z-aaaaaa', '20261101T000000Z-aaaaaa']);
  });

  it('still shows local history when the repository cannot be listed, and says why', async () => {
    await writeLocal('20261101T000000Z-aaaaaa');
    const broken: Repository = Object.assign(Object.create(repository) as LocalRepository, {
      listRunIds: () => Promise.reject(new Error('connection refused')),
      describe: () => 's3 repository "offsite"',
    });

    const { reports, problems } = await readRecentReports({ reportsDirectory, repository: broken }, 'orders', 10);

    expect(ids(reports)).toEqual(['20261101T000000Z-aaaaaa']);
    expect(problems).toEqual([`could not list the reports kept in s3 repository "offsite": connection refused; showing this machine's reports only`]);
  });
});

describe('findReport', () => {
  it('finds a run in the local reports first, then in the repository', async () => {
    await writeLocal('20261101T000000Z-aaaaaa');
    await repository.saveRunResult('orders', '20261102T000000Z-bbbbbb', reportJson('20261102T000000Z-bbbbbb', 'failed'));

    expect((await findReport({ reportsDirectory, repository }, 'orders', '20261101T000000Z-aaaaaa')).report?.status).toBe('passed');
    expect((await findReport({ reportsDirectory, repository }, 'orders', '20261102T000000Z-bbbbbb')).report?.status).toBe('failed');
    expect(await findReport({ reportsDirectory, repository }, 'orders', '20261109T000000Z-ffffff')).toEqual({ report: undefined, problems: [] });
  });
});
