import { spawn } from 'node:child_process';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { processesMentioning } from '../support/workspace.ts';
import { findTools } from '../../src/engines/postgres/postgres-tools.ts';
import { connect } from '../../src/engines/postgres/session.ts';
import { startLocalCluster, type LocalClusterOptions } from '../../src/sandbox/local-cluster.ts';
import { reapOrphanedClusters } from '../../src/sandbox/orphan-reaper.ts';
import { sandboxUser } from '../../src/sandbox/unix-user.ts';
import { Releasers } from '../../src/drill/releasers.ts';
import { silentLogger } from '../../src/logger.ts';
import { SandboxError } from '../../src/errors.ts';
import { currentOwner } from '../../src/pipeline/owner-marker.ts';
import { useWorkspace } from '../support/lifecycle.ts';


const context = useWorkspace();

/** A socket-only cluster in the workspace, as the local sandbox starts it. */
async function clusterOptions(extra: Partial<LocalClusterOptions> = {}): Promise<LocalClusterOptions> {
  const [server] = await findTools('postgres');
  return {
    binDir: server!.binDir,
    parentDirectory: context.workspace.temporary,
    runAs: await sandboxUser(undefined),
    listen: 'socket',
    owner: { runId: 'test', drill: 'test' },
    logger: silentLogger,
    ...extra,
  };
}

describe('an ephemeral local cluster', () => {
  it('answers on its private socket only, and stop() removes the server and its directory', async () => {
    const cluster = await startLocalCluster(await clusterOptions());
    expect(cluster.host).toBe(join(cluster.directory, 'socket'));
    const client = await connect(cluster.connection('postgres'));
    expect((await client.query('show listen_addresses')).rows).toEqual([{ listen_addresses: '' }]);
    await client.end();
    expect(cluster.serverVersion).toMatch(/^\d+\.\d+/);
    expect(await processesMentioning(cluster.directory)).toHaveLength(1);
    await cluster.stop();
    await cluster.stop();
    expect(await readdir(context.workspace.temporary)).toEqual([]);
  });

  it('is released by its releasers when the caller never calls stop()', async () => {
    const releasers = new Releasers(silentLogger);
    await startLocalCluster(await clusterOptions({ releasers }));
    expect(await readdir(context.workspace.temporary)).toHaveLength(1);
    await releasers.releaseAll();
  });

  it('removes everything it started when the server cannot start', async () => {
    const error = await startLocalCluster(await clusterOptions({ settings: { shared_buffers: 'plenty' } })).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SandboxError);
    expect((error as Error).message).toContain('PostgreSQL exited while starting');
    expect((error as Error).message).toContain('shared_buffers');
  });

  it('is reaped by the next start after the firedrill process that made it was killed with SIGKILL', async () => {
    // A separate firedrill-like process starts a cluster and is then killed without any chance to clean up.
    const script = `
      import { startLocalCluster } from ${JSON.stringify(new URL('../../dist/sandbox/local-cluster.js', import.meta.url).href)};
      import { sandboxUser } from ${JSON.stringify(new URL('../../dist/sandbox/unix-user.js', import.meta.url).href)};
      import { silentLogger } from ${JSON.stringify(new URL('../../dist/logger.js', import.meta.url).href)};
      await startLocalCluster({ binDir: ${JSON.stringify((await clusterOptions()).binDir)}, parentDirectory: ${JSON.stringify(context.workspace.temporary)},
        runAs: await sandboxUser(undefined), listen: 'socket', owner: { runId: 'doomed', drill: 'test' }, logger: silentLogger });
      console.log('started');
      setInterval(() => {}, 1000);
    `;
    const doomed = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => doomed.stdout.on('data', () => resolve()));
    doomed.kill('SIGKILL');
    await new Promise((resolve) => doomed.on('close', resolve));
    expect(await processesMentioning(context.workspace.temporary)).toHaveLength(1);

    const reaped = await reapOrphanedClusters(silentLogger, context.workspace.temporary);
    expect(reaped).toHaveLength(1);
  });

  it('never signals a process that is not the leftover cluster\'s own postmaster', async () => {
    // Debris of a dead firedrill whose postmaster.pid names a pid now used by something else.
    const bystander = spawn('sleep', ['30'], { stdio: 'ignore' });
    const directory = join(context.workspace.temporary, 'firedrill-sandbox-stale');
    await mkdir(join(directory, 'data'), { recursive: true });
    await writeFile(join(directory, 'firedrill-sandbox.json'), JSON.stringify({ ...(await currentOwner()), pid: 2 ** 22 + 1 }));
    await writeFile(join(directory, 'data', 'postmaster.pid'), `${bystander.pid}\n${join(directory, 'data')}\n`);

    expect(await reapOrphanedClusters(silentLogger, context.workspace.temporary)).toEqual([directory]);
    expect(bystander.exitCode).toBeNull();
    expect(bystander.signalCode).toBeNull();
    bystander.kill();
  });

  it('leaves alone the sandbox of a firedrill process that is still running', async () => {
    const directory = join(context.workspace.temporary, 'firedrill-sandbox-busy');
    await mkdir(directory);
    await writeFile(join(directory, 'firedrill-sandbox.json'), JSON.stringify(await currentOwner()));
    expect(await reapOrphanedClusters(silentLogger, context.workspace.temporary)).toEqual([]);
    await rm(directory, { recursive: true });
  });
});

