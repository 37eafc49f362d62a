import type { RunContext } from '../../interfaces.ts';
import { BackupError, FiredrillError, errorMessage } from '../../errors.ts';
import { spawnChild, type ChildProcessHandle } from '../../pipeline/child-process.ts';
import { startToolContainer } from '../../docker/docker-client.ts';
import { execInContainer } from '../../docker/docker-exec.ts';
import { describeInstalled, findTools, parseToolVersion, pickTool, type InstalledTool } from './postgres-tools.ts';
import type { PostgresTarget } from './postgres-engine.ts';

/**
 * Where pg_dump runs. pg_dump must be at least the server's major version.
 * A host with older client tools (a PostgreSQL 17 server, Debian's 15 tools)
 * can still back it up: `backup.tool: auto` then runs pg_dump inside a
 * `postgres:<server major>` container, which reaches the source over the
 * host's network by default. The manifest records which one made the backup.
 */

export interface DumpTool {
  /** `host` or `docker`. */
  readonly where: 'host' | 'docker';
  readonly version: string;
  readonly major: number;
  /** `/usr/lib/postgresql/15/bin/pg_dump`, or `docker:postgres:17`. */
  readonly path: string;
  readonly image?: string;
  /** Starts a dump; output on `stdout`, `succeeded` rejects with a ChildProcessError. */
  run(args: string[], env: Record<string, string>, signal: AbortSignal): Pick<ChildProcessHandle, 'stdout' | 'succeeded' | 'kill'>;
  /** Removes a container it started. Idempotent. */
  release(): Promise<void>;
}

export async function pickDumpTool(context: RunContext, target: PostgresTarget, server: { version: string; major: number }, where: string): Promise<DumpTool> {
  const mode = target.backup.tool;
  let installed: InstalledTool[] = [];
  if (mode !== 'docker') {
    installed = await findTools('pg_dump', target.backup.binDir ? [target.backup.binDir] : []);
    const tool = pickTool(installed, server.major);
    if (tool) return hostTool(context, tool);
    if (mode === 'host') {
      const newest = installed.at(-1);
      const found = newest ? `pg_dump ${newest.version} (${newest.path}) is older than` : 'no pg_dump was found for';
      throw new BackupError(
        `${found} the source server ${where} (PostgreSQL ${server.version}); pg_dump must be at least the server's major version ` +
          `(installed: ${describeInstalled(installed)}). Install the PostgreSQL ${server.major} client tools ` +
          `(e.g. apt-get install postgresql-client-${server.major}), set backup.binDir, or let pg_dump run in a container (backup.tool: auto) in ${target.configuredIn}`,
      );
    }
  }
  const image = target.backup.image.replaceAll('{major}', String(server.major));
  const why = mode === 'docker' ? 'backup.tool is docker' : `the host has no pg_dump of major ${server.major} or newer (installed: ${describeInstalled(installed)})`;
  context.logger.info({ image, network: target.backup.network }, `${why}: pg_dump runs in a container`);
  return containerTool(context, target, image, server, where);
}

function hostTool(context: RunContext, tool: InstalledTool): DumpTool {
  return {
    where: 'host',
    version: tool.version,
    major: tool.major,
    path: tool.path,
    run: (args, env, signal) => spawnChild(tool.path, args, { env, signal, releasers: context.releasers, dieWithParent: true }),
    release: () => Promise.resolve(),
  };
}

async function containerTool(
  context: RunContext,
  target: PostgresTarget,
  image: string,
  server: { version: string; major: number },
  where: string,
): Promise<DumpTool> {
  const { connection } = target;
  // The container sees its own file system and network namespace: a socket directory or a CA file of this machine is not there.
  if (connection.host.startsWith('/')) {
    throw new BackupError(
      `pg_dump would run in a container (${image}), which cannot reach the Unix socket ${connection.host} of ${where}; ` +
        `connect over TCP, or install pg_dump ${server.major} on this machine and set backup.tool: host in ${target.configuredIn}`,
    );
  }
  if (connection.sslRootCert) {
    throw new BackupError(
      `pg_dump would run in a container (${image}), which cannot read source.sslRootCert (${connection.sslRootCert}) on this machine; ` +
        `install pg_dump ${server.major} here (backup.tool: host) in ${target.configuredIn}`,
    );
  }
  let started: Awaited<ReturnType<typeof startToolContainer>> | undefined;
  try {
    started = await startToolContainer({
      image,
      network: target.backup.network,
      runId: context.runId,
      drill: context.drillName,
      releasers: context.releasers,
      otherwise: `or install pg_dump ${server.major} or newer on this machine (backup.tool: host)`,
    });
    const versionRun = execInContainer(started.container, ['pg_dump', '--version'], { label: `pg_dump --version in ${image}`, signal: context.signal });
    const chunks: Buffer[] = [];
    versionRun.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    await versionRun.succeeded;
    const said = Buffer.concat(chunks).toString('utf8');
    const parsed = parseToolVersion(said);
    if (!parsed) throw new BackupError(`image ${image} has no usable pg_dump (\`pg_dump --version\` said: ${said.trim() || 'nothing'})`);
    if (parsed.major < server.major) {
      throw new BackupError(
        `image ${image} has pg_dump ${parsed.version}, older than the source server ${where} (PostgreSQL ${server.version}); set backup.image to an image of major ${server.major} or newer in ${target.configuredIn}`,
      );
    }
    const container = started;
    return {
      where: 'docker',
      version: parsed.version,
      major: parsed.major,
      path: `docker:${image}`,
      image,
      run: (args, env, signal) => execInContainer(container.container, ['pg_dump', ...args], { label: `pg_dump in container ${container.id} (${image})`, env, signal }),
      release: container.release,
    };
  } catch (error) {
    await started?.release();
    if (error instanceof BackupError) throw error;
    // Whatever kept the container from serving is a backup error here, told in its own words when it has them.
    const message = error instanceof FiredrillError ? error.message : `cannot run pg_dump in a container of ${image}: ${errorMessage(error)}`;
    throw new BackupError(message, { cause: error });
  }
}
