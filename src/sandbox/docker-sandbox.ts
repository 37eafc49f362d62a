import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { z } from 'zod';
import type Dockerode from 'dockerode';
import type { BoundPorts, ContainerRuntimeClient, StartedTestContainer } from 'testcontainers';
import type { RunContext, Sandbox, SandboxRequirements, SandboxStartOptions, StartedSandbox } from '../interfaces.ts';
import { SandboxError, errorMessage } from '../errors.ts';
import { throwIfAborted } from '../abort.ts';
import { timeoutSchema } from '../config/common.ts';
import { Secret } from '../secret.ts';
import type { PostgresConnection } from '../engines/postgres/postgres-connection.ts';
import { THROWAWAY_SETTINGS } from './local-cluster.ts';
import { waitUntilAnswering } from './server-readiness.ts';
import { OwnWaitStrategy, dockerClient, explainStartFailure, firedrillLabels, keepContainer, reapLeftoverContainers, removeContainer } from '../docker/docker-client.ts';
import { demultiplex, execInContainer } from '../docker/docker-exec.ts';

export const dockerSandboxSchema = z
  .strictObject({
    type: z.literal('docker').describe('A throwaway PostgreSQL container, started with testcontainers and removed after the run.'),
    image: z
      .string()
      .min(1)
      .default('postgres:{major}')
      .describe(
        'Image of a PostgreSQL server that behaves like the official one (POSTGRES_PASSWORD, POSTGRES_USER). ' +
          '{major} becomes the major version the backup needs (the server\'s, or pg_dump\'s when newer); a drill\'s restore.image overrides this. (Default: postgres:{major})',
      ),
    pull: z
      .enum(['missing', 'always', 'never'])
      .default('missing')
      .describe('missing: pull only when the engine lacks the image; always: pull before every run; never: fail when it is missing. (Default: missing)'),
    env: z
      .record(z.string(), z.string())
      .optional()
      .describe('Extra container environment, e.g. POSTGRES_INITDB_ARGS. Not for secrets: the environment is visible to anyone who can inspect the container.'),
    args: z
      .array(z.string())
      .optional()
      .describe('Extra arguments for the server command (`postgres`), after firedrill\'s own, e.g. ["-c", "shared_buffers=1GB"].'),
    settings: z
      .record(z.string(), z.union([z.string(), z.number(), z.boolean()]))
      .optional()
      .describe('Extra server settings (postgresql.conf names), on top of settings tuned for a throwaway server (fsync off and the like).'),
    tmpfs: z
      .record(z.string(), z.string())
      .optional()
      .describe(
        'tmpfs mounts by container path, e.g. { /var/lib/postgresql/data: "rw,size=8g" }: a restore into memory is faster, but must fit. (Default: none; data on the container\'s disk)',
      ),
    user: z.string().min(1).default('postgres').describe('The sandbox superuser (POSTGRES_USER). (Default: postgres)'),
    startTimeout: timeoutSchema('How long the container may take to accept SQL connections, pull excluded. (Default: 2m)').prefault('2m'),
  })
  .describe('A throwaway PostgreSQL container per run, labelled with its run and drill, always removed.');

export type DockerSandboxConfig = z.output<typeof dockerSandboxSchema>;

const POSTGRES_PORT = 5432;
/** Where staged files go inside the container: /tmp exists in every image, and the container is thrown away. */
const STAGING_DIRECTORY = '/tmp';

export class DockerSandbox implements Sandbox {
  readonly type = 'docker';
  readonly name: string;
  readonly #config: DockerSandboxConfig;

  constructor(name: string, config: DockerSandboxConfig) {
    this.name = name;
    this.#config = config;
  }

  async start(context: RunContext, requirements: SandboxRequirements, options: SandboxStartOptions = {}): Promise<StartedSandbox> {
    const client = await dockerClient('or restore into a local cluster with `sandbox: local`');
    // Debris of crashed runs on this machine goes first; live runs and kept sandboxes are left alone.
    // A cleanup that fails (a container stuck in removal) must not stop this run: it is logged, and `firedrill cleanup` retries.
    try {
      const { problems } = await reapLeftoverContainers(client, context.logger, { olderThanMs: 7 * 24 * 3_600_000 });
      for (const problem of problems) context.logger.warn(problem);
    } catch (error) {
      context.logger.warn({ err: errorMessage(error) }, 'could not look for leftover containers');
    }
    const image = (options.image ?? this.#config.image).replaceAll('{major}', String(requirements.minimumServerMajor));
    const password = Secret.fromValue(randomBytes(24).toString('base64url'), `docker sandbox "${this.name}" superuser password`);
    const user = this.#config.user;
    const settings = { ...THROWAWAY_SETTINGS, ...this.#config.settings };
    const command = ['postgres', ...Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${String(value)}`]), ...(this.#config.args ?? [])];

    const probe = new SqlProbe(user, password, context.signal, `sandboxes.${this.name}.startTimeout`);
    let containerId: string | undefined;
    const removal = context.releasers.add(`sandbox container (${image})`, async () => {
      if (containerId) await removeContainer(client, containerId);
    });
    const { SandboxContainer, pullPolicy } = await import('../docker/container-classes.ts');
    const container = new SandboxContainer(image, (id) => {
      containerId = id;
      context.logger.debug({ container: id.slice(0, 12), image }, 'sandbox container created');
    })
      .withLabels(await firedrillLabels({ runId: context.runId, drill: context.drillName, role: 'sandbox' }))
      .withEnvironment({ ...this.#config.env, POSTGRES_USER: user, POSTGRES_PASSWORD: password.reveal() })
      .withCommand(command)
      .withExposedPorts(POSTGRES_PORT)
      .withTmpFs(this.#config.tmpfs ?? {})
      .withPullPolicy(pullPolicy(this.#config.pull))
      .withAutoCleanup(false)
      .withStartupTimeout(this.#config.startTimeout)
      .withWaitStrategy(probe);

    let started: StartedTestContainer;
    try {
      started = await container.start();
    } catch (error) {
      await removal.release();
      throwIfAborted(context.signal);
      if (error instanceof SandboxError) throw new SandboxError(`sandbox "${this.name}" (${image}): ${error.message}`, { cause: error });
      const imageSetting = options.image ? 'restore.image' : `sandboxes.${this.name}.image`;
      const why = await explainStartFailure(client, error, { image, imageSetting, pull: this.#config.pull, pullSetting: `sandboxes.${this.name}.pull` });
      throw new SandboxError(`sandbox "${this.name}": ${why}`, { cause: error });
    }
    const port = started.getMappedPort(POSTGRES_PORT);
    const connection = (database: string): PostgresConnection => ({
      host: '127.0.0.1',
      port,
      database,
      user,
      password,
      connectTimeoutMs: 10_000,
    });
    const serverVersion = probe.server as { version: string; major: number };
    if (serverVersion.major < requirements.minimumServerMajor) {
      await removal.release();
      throw new SandboxError(
        `image ${image} runs PostgreSQL ${serverVersion.version}, older than the backup needs (major ${requirements.minimumServerMajor}, from its server and pg_dump); ` +
          `an older pg_restore cannot read a newer dump. Use an image of major ${requirements.minimumServerMajor} or newer (restore.image, or sandboxes.${this.name}.image)`,
      );
    }
    const id = started.getId().slice(0, 12);
    const dockerContainer = client.container.getById(started.getId());
    let stagedPath: string | undefined;
    const description = `docker container ${id} (${image}, PostgreSQL ${serverVersion.version})`;
    context.logger.info({ container: id, image, port }, 'sandbox container ready');
    return {
      id,
      description,
      image,
      serverVersion: serverVersion.version,
      connection,
      connectionUrl: (database) =>
        `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password.reveal())}@127.0.0.1:${port}/${encodeURIComponent(database)}`,
      stageFile: async (path, signal) => (stagedPath = await copyIntoContainer(client, dockerContainer, path, signal)),
      runTool: async (tool, args, toolOptions) => {
        const env = { PGHOST: '127.0.0.1', PGPORT: String(POSTGRES_PORT), PGUSER: user, PGPASSWORD: password.reveal(), PGDATABASE: toolOptions.database };
        await execInContainer(dockerContainer, [tool, ...args], { label: `${tool} in ${description}`, env, signal: toolOptions.signal }).succeeded;
      },
      keep: async () => {
        // The archive's copy has done its work: a kept sandbox should not hold it for days.
        await execInContainer(dockerContainer, ['rm', '-rf', stagedPath ?? '/nonexistent'], { label: 'rm in the sandbox container' }).succeeded.catch(() => undefined);
        await keepContainer(client, started.getId());
        removal.forget();
      },
      stop: () => removal.release(),
    };
  }
}

/**
 * testcontainers' wait step, done by firedrill's own probe: a query over the
 * published port (which only the final server answers; the official image's
 * temporary init server listens on a Unix socket). Keeps the server version
 * it read.
 */
class SqlProbe extends OwnWaitStrategy {
  readonly #user: string;
  readonly #password: Secret;
  readonly #signal: AbortSignal;
  readonly #timeoutSetting: string;
  server: { version: string; major: number } | undefined;

  constructor(user: string, password: Secret, signal: AbortSignal, timeoutSetting: string) {
    super();
    this.#user = user;
    this.#password = password;
    this.#signal = signal;
    this.#timeoutSetting = timeoutSetting;
  }

  async waitUntilReady(container: Dockerode.Container, boundPorts: BoundPorts): Promise<void> {
    const connection: PostgresConnection = {
      host: '127.0.0.1',
      port: boundPorts.getBinding(POSTGRES_PORT),
      database: 'postgres',
      user: this.#user,
      password: this.#password,
      connectTimeoutMs: 5_000,
    };
    this.server = await waitUntilAnswering(connection, {
      timeoutMs: this.startupTimeoutMs,
      signal: this.#signal,
      whyGone: async () => {
        const state = (await container.inspect()).State;
        return state.Running ? undefined : `the container exited (status ${state.ExitCode}) before PostgreSQL accepted connections`;
      },
      lastWords: async () => `its log ends with:\n${await logTail(container)}`,
      timeoutSetting: this.#timeoutSetting,
    });
  }
}

async function logTail(container: Dockerode.Container): Promise<string> {
  try {
    const logs = await container.logs({ stdout: true, stderr: true, tail: 15, follow: false });
    // Without a TTY the log comes in Docker's multiplexed frames: stdout and stderr, in order.
    return demultiplex(logs).toString('utf8').trim();
  } catch {
    return '(no log)';
  }
}


/**
 * A copy of a local file inside the container, streamed as a one-file tar
 * archive through the Docker API (no docker CLI needed, nothing held in
 * memory). Measured against streaming into `docker exec`: see the README.
 */
async function copyIntoContainer(client: ContainerRuntimeClient, container: Dockerode.Container, path: string, signal: AbortSignal): Promise<string> {
  throwIfAborted(signal);
  const name = basename(path);
  const pack = tar.pack();
  // A file, or a flat directory (a pg_dump directory-format dump: toc.dat and one file per table).
  const written = (async () => {
    const facts = await stat(path);
    if (!facts.isDirectory()) {
      await pipeline(createReadStream(path), pack.entry({ name, size: facts.size, mode: 0o644 }), { signal });
    } else {
      pack.entry({ name, type: 'directory', mode: 0o755 });
      for (const file of await readdir(path)) {
        const filePath = join(path, file);
        await pipeline(createReadStream(filePath), pack.entry({ name: `${name}/${file}`, size: (await stat(filePath)).size, mode: 0o644 }), { signal });
      }
    }
    pack.finalize();
  })();
  const sent = client.container.putArchive(container, pack as unknown as Readable, STAGING_DIRECTORY);
  // Whichever fails first is the cause; the other is stopped with it.
  try {
    await Promise.all([written, sent]);
  } catch (error) {
    pack.destroy();
    await Promise.allSettled([written, sent]);
    throwIfAborted(signal);
    throw new SandboxError(`cannot copy ${path} into the sandbox container: ${errorMessage(error)}`, { cause: error });
  }
  return `${STAGING_DIRECTORY}/${name}`;
}
