import { basename, join, resolve } from 'node:path';
import { z } from 'zod';
import type { RunContext, Sandbox, SandboxRequirements, StartedSandbox } from '../interfaces.ts';
import { SandboxError } from '../errors.ts';
import { timeoutSchema } from '../config/common.ts';
import { spawnChild } from '../pipeline/child-process.ts';
import { libpqEnvironment } from '../engines/postgres/postgres-connection.ts';
import { describeInstalled, findTools, inspectTool, pickTool } from '../engines/postgres/postgres-tools.ts';
import { startLocalCluster } from './local-cluster.ts';
import { reapOrphanedClusters } from './orphan-reaper.ts';
import { sandboxUser } from './unix-user.ts';

export const localSandboxSchema = z
  .strictObject({
    type: z.literal('local').describe('An ephemeral PostgreSQL cluster on this machine, reached by a private Unix socket only.'),
    binDir: z
      .string()
      .optional()
      .describe('Directory with initdb, postgres and pg_restore. (Default: the lowest installed major that can restore the backup)'),
    runAs: z
      .string()
      .optional()
      .describe(
        'When firedrill runs as root: the unprivileged user that runs the server. Not postgres on a database host: ' +
          'a restore runs code from the backup as the sandbox superuser. (Default: firedrill if that user exists, else nobody)',
      ),
    directory: z.string().optional().describe('Where the cluster\'s temp dir is created. (Default: the OS temp dir)'),
    startTimeout: timeoutSchema('How long the server may take to accept connections. (Default: 60s)').prefault('60s'),
    settings: z
      .record(z.string(), z.union([z.string(), z.number(), z.boolean()]))
      .optional()
      .describe('Extra server settings (postgresql.conf names), on top of settings tuned for a throwaway server (fsync off and the like).'),
  })
  .describe('A throwaway local PostgreSQL cluster, created per run and always deleted.');

export type LocalSandboxConfig = z.output<typeof localSandboxSchema>;

export class LocalSandbox implements Sandbox {
  readonly type = 'local';
  readonly name: string;
  readonly #config: LocalSandboxConfig;

  constructor(name: string, config: LocalSandboxConfig, options: { cwd: string }) {
    this.name = name;
    // Relative paths resolve against the working directory, like every path in the config.
    const absolute = (path: string | undefined) => (path === undefined ? undefined : resolve(options.cwd, path));
    this.#config = { ...config, binDir: absolute(config.binDir), directory: absolute(config.directory) };
  }

  /** Where this sandbox's clusters are created (undefined: the OS temp dir): where their leftovers are looked for. */
  get directory(): string | undefined {
    return this.#config.directory;
  }

  async start(context: RunContext, requirements: SandboxRequirements): Promise<StartedSandbox> {
    await reapOrphanedClusters(context.logger, this.#config.directory);
    const binDir = await this.#pickBinDir(requirements);
    const cluster = await startLocalCluster({
      binDir,
      parentDirectory: this.#config.directory,
      runAs: await sandboxUser(this.#config.runAs),
      listen: 'socket',
      settings: Object.fromEntries(Object.entries(this.#config.settings ?? {}).map(([name, value]) => [name, String(value)])),
      startTimeoutMs: this.#config.startTimeout,
      startTimeoutSetting: `sandboxes.${this.name}.startTimeout`,
      owner: { runId: context.runId, drill: context.drillName },
      logger: context.logger,
      signal: context.signal,
      releasers: context.releasers,
    });
    return {
      id: basename(cluster.directory),
      description: `local cluster PostgreSQL ${cluster.serverVersion} in ${cluster.directory}`,
      serverVersion: cluster.serverVersion,
      connection: (database) => cluster.connection(database),
      connectionUrl: (database) =>
        `postgres:///${encodeURIComponent(database)}?host=${encodeURIComponent(cluster.host)}&port=${cluster.port}&user=postgres`,
      // The server runs as another user when firedrill is root, but pg_restore runs as firedrill: it reads the file in place.
      stageFile: (path) => Promise.resolve(path),
      runTool: async (tool, args, options) => {
        const env = libpqEnvironment(cluster.connection(options.database));
        await spawnChild(join(binDir, tool), args, { env, signal: options.signal, releasers: options.releasers, stdout: 'ignore', dieWithParent: true }).succeeded;
      },
      stop: () => cluster.stop(),
    };
  }

  /** A directory with the server, initdb and pg_restore of one major, at least the one the backup needs. */
  async #pickBinDir(requirements: SandboxRequirements): Promise<string> {
    const configured = this.#config.binDir ? [this.#config.binDir] : [];
    const servers = await findTools('postgres', configured);
    const complete = [];
    for (const server of servers) {
      const companions = await Promise.all([inspectTool(server.binDir, 'initdb'), inspectTool(server.binDir, 'pg_restore')]);
      if (companions.every((tool) => tool?.major === server.major)) complete.push(server);
    }
    const chosen = pickTool(complete, requirements.minimumServerMajor);
    if (!chosen) {
      const where = this.#config.binDir ? `in ${this.#config.binDir}` : 'on this machine';
      throw new SandboxError(
        `sandbox "${this.name}" needs PostgreSQL server binaries of major ${requirements.minimumServerMajor} or newer ` +
          `(postgres, initdb, pg_restore) and found ${describeInstalled(complete)} ${where}. ` +
          `Install the server package (e.g. apt-get install postgresql-${requirements.minimumServerMajor}) or set sandboxes.${this.name}.binDir`,
      );
    }
    return chosen.binDir;
  }
}
