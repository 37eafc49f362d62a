import { setTimeout as sleep } from 'node:timers/promises';
import type Dockerode from 'dockerode';
import type { ContainerRuntimeClient, WaitStrategy } from 'testcontainers';
import type { Releasers } from '../drill/releasers.ts';
import type { Logger } from '../logger.ts';
import { SandboxError, errorMessage } from '../errors.ts';
import { currentOwner, ownerState, type OwnerMarker } from '../pipeline/owner-marker.ts';

/**
 * firedrill's access to a Docker engine, found the way testcontainers finds
 * it (DOCKER_HOST, ~/.testcontainers.properties, the usual sockets). testcontainers' own reaper (Ryuk) is never used: its image cannot
 * be assumed pullable, and firedrill's labels do its job instead. Every
 * container firedrill creates carries the labels below, so whatever a crash
 * leaves behind can be found, traced to its run, and removed.
 */

export const LABELS = {
  run: 'io.firedrill.run',
  drill: 'io.firedrill.drill',
  /** `sandbox` (a restore target) or `pg_dump` (a backup tool container). */
  role: 'io.firedrill.role',
  /** JSON of the owning process (pid, hostname, machine and boot ids): tells debris from work in progress. */
  owner: 'io.firedrill.owner',
  created: 'io.firedrill.created',
} as const;

/**
 * The name of a sandbox kept up on purpose (`firedrill restore --keep`). Labels
 * cannot change after creation, and a sandbox only counts as kept once its
 * restore has succeeded: so it is renamed then. A `--keep` restore that dies
 * half-way leaves an ordinary leftover, which cleanup removes.
 */
export const KEPT_NAME_PREFIX = 'firedrill-kept-';

export type ContainerRole = 'sandbox' | 'pg_dump';

export async function firedrillLabels(options: { runId: string; drill: string; role: ContainerRole }): Promise<Record<string, string>> {
  const { pid, hostname, machineId, bootId } = await currentOwner();
  return {
    [LABELS.run]: options.runId,
    [LABELS.drill]: options.drill,
    [LABELS.role]: options.role,
    [LABELS.owner]: JSON.stringify({ pid, hostname, machineId, bootId }),
    [LABELS.created]: new Date().toISOString(),
  };
}

const REACHABLE_TIMEOUT_MS = 5_000;

/**
 * The Docker engine, or a SandboxError that says how to get one. `otherwise`
 * is what the caller can do without Docker (`or restore into a local cluster
 * with sandbox: local`), for that message.
 */
export async function dockerClient(otherwise?: string): Promise<ContainerRuntimeClient> {
  // Set before testcontainers reads it: firedrill never starts Ryuk (see above), whatever the caller's environment says.
  process.env['TESTCONTAINERS_RYUK_DISABLED'] = 'true';
  const dockerHost = process.env['DOCKER_HOST'];
  const instead = otherwise ? `, ${otherwise}` : '';
  let client: ContainerRuntimeClient;
  try {
    // Loaded here, not at start-up: most runs never talk to Docker (see container-classes.ts).
    const { getContainerRuntimeClient } = await import('testcontainers');
    client = await withTimeout(getContainerRuntimeClient(), REACHABLE_TIMEOUT_MS, 'the Docker engine did not answer');
  } catch (error) {
    const cause = /Could not find a working container runtime strategy/.test(errorMessage(error)) ? 'none answers' : errorMessage(error);
    const where = dockerHost ? `at DOCKER_HOST=${dockerHost}` : 'on the usual sockets (DOCKER_HOST is not set)';
    throw new SandboxError(`no Docker engine is reachable ${where}: ${cause}. Start Docker (e.g. \`dockerd\` or \`systemctl start docker\`) or set DOCKER_HOST${instead}`, {
      cause: error,
    });
  }
  // testcontainers quietly tries the usual sockets when DOCKER_HOST does not answer: a set DOCKER_HOST must be the engine used.
  if (dockerHost && !connectsTo(client, dockerHost)) {
    throw new SandboxError(`the Docker engine at DOCKER_HOST=${dockerHost} does not answer (another one on this machine does, but DOCKER_HOST names this one). Start it, or unset DOCKER_HOST${instead}`);
  }
  return client;
}

function connectsTo(client: ContainerRuntimeClient, dockerHost: string): boolean {
  const modem = client.container.dockerode.modem as { socketPath?: string; host?: string; port?: number | string };
  try {
    const url = new URL(dockerHost);
    if (url.protocol === 'unix:') return modem.socketPath === url.pathname;
    return modem.host === url.hostname && String(modem.port ?? '') === (url.port || String(modem.port ?? ''));
  } catch {
    return true;
  }
}

/** Whether a Docker engine answers within 5 s in all: decides the `auto` sandbox. Never throws. */
export async function dockerReachable(): Promise<boolean> {
  const answers = async () => {
    const client = await dockerClient();
    await client.container.dockerode.ping();
    return true;
  };
  return withTimeout(answers(), REACHABLE_TIMEOUT_MS, 'no answer').catch(() => false);
}

export interface FiredrillContainer {
  id: string;
  name: string;
  image: string;
  state: string;
  role: string;
  runId: string;
  drill: string;
  createdAt: Date;
  kept: boolean;
  owner: Partial<OwnerMarker>;
  /** Published ports as `host:port` on this machine, by container port. */
  ports: Record<number, string>;
}

export async function listFiredrillContainers(client: ContainerRuntimeClient): Promise<FiredrillContainer[]> {
  const containers = await client.container.dockerode.listContainers({ all: true, filters: { label: [LABELS.run] } });
  return containers.map((info) => {
    const labels = info.Labels;
    const created = new Date(labels[LABELS.created] ?? info.Created * 1000);
    let owner: Partial<OwnerMarker> = {};
    try {
      owner = JSON.parse(labels[LABELS.owner] ?? '{}') as Partial<OwnerMarker>;
    } catch {
      // A label edited by hand: the owner is unknown, so only age decides.
    }
    const ports: Record<number, string> = {};
    for (const port of info.Ports) if (port.PublicPort) ports[port.PrivatePort] = `${port.IP && port.IP !== '0.0.0.0' ? port.IP : '127.0.0.1'}:${port.PublicPort}`;
    return {
      id: info.Id.slice(0, 12),
      name: (info.Names[0] ?? '').replace(/^\//, ''),
      image: info.Image,
      state: info.State,
      role: labels[LABELS.role] ?? 'unknown',
      runId: labels[LABELS.run] ?? '',
      drill: labels[LABELS.drill] ?? '',
      createdAt: Number.isNaN(created.getTime()) ? new Date(info.Created * 1000) : created,
      kept: (info.Names[0] ?? '').replace(/^\//, '').startsWith(KEPT_NAME_PREFIX),
      owner,
      ports,
    };
  });
}

/** Removes a container and its anonymous volumes (the official image declares one for PGDATA). A container already gone is fine. */
export async function removeContainer(client: ContainerRuntimeClient, id: string): Promise<void> {
  try {
    await client.container.dockerode.getContainer(id).remove({ force: true, v: true });
  } catch (error) {
    const status = (error as { statusCode?: number }).statusCode;
    // 404: already gone. 409: removal already in progress (another cleanup, or AutoRemove).
    if (status === 404) return;
    if (status === 409 && (await goneWithin(client.container.dockerode.getContainer(id), 30_000))) return;
    throw error;
  }
}

/** Marks a started sandbox as kept (see KEPT_NAME_PREFIX). */
export async function keepContainer(client: ContainerRuntimeClient, id: string): Promise<void> {
  await client.container.dockerode.getContainer(id).rename({ name: `${KEPT_NAME_PREFIX}${id.slice(0, 12)}` });
}

async function goneWithin(container: Dockerode.Container, timeoutMs: number): Promise<boolean> {
  for (let waited = 0; waited < timeoutMs; waited += 200) {
    try {
      await container.inspect();
    } catch {
      return true;
    }
    await sleep(200);
  }
  return false;
}

export interface LeftoverDecision {
  container: FiredrillContainer;
  remove: boolean;
  reason: string;
}

/**
 * Which firedrill containers are leftovers. A container whose owner ran on
 * this machine and is gone is one at once; one whose owner runs here is
 * never one, however long its drill takes; one whose owner cannot be judged
 * from here (another machine sharing the engine) is one once older than
 * `olderThanMs`. Kept sandboxes are never leftovers: only `sandbox rm`
 * removes them.
 */
export async function judgeLeftovers(containers: FiredrillContainer[], options: { olderThanMs: number; now?: Date }): Promise<LeftoverDecision[]> {
  const now = (options.now ?? new Date()).getTime();
  const decisions: LeftoverDecision[] = [];
  for (const container of containers) {
    const owner = await ownerState(container.owner);
    if (container.kept) {
      decisions.push({ container, remove: false, reason: 'kept on purpose (firedrill restore --keep); remove it with `firedrill sandbox rm`' });
    } else if (owner === 'gone') {
      decisions.push({ container, remove: true, reason: `its firedrill process (pid ${container.owner.pid}) is gone` });
    } else if (owner === 'alive') {
      decisions.push({ container, remove: false, reason: `it belongs to a drill running here (${container.drill}, run ${container.runId})` });
    } else if (now - container.createdAt.getTime() >= options.olderThanMs) {
      decisions.push({ container, remove: true, reason: `started from another machine, and older than ${Math.round(options.olderThanMs / 60_000)} minutes` });
    } else {
      decisions.push({ container, remove: false, reason: `started from another machine (${container.owner.hostname ?? 'unknown'}), which may still use it` });
    }
  }
  return decisions;
}

/** Removes the leftovers of crashed runs (see judgeLeftovers); never touches live or kept containers. */
export async function reapLeftoverContainers(
  client: ContainerRuntimeClient,
  logger: Logger,
  options: { olderThanMs: number },
): Promise<{ removed: FiredrillContainer[]; problems: string[] }> {
  const removed: FiredrillContainer[] = [];
  const problems: string[] = [];
  for (const decision of await judgeLeftovers(await listFiredrillContainers(client), options)) {
    if (!decision.remove) continue;
    try {
      await removeContainer(client, decision.container.id);
      removed.push(decision.container);
      logger.warn(
        { container: decision.container.id, leftByRunId: decision.container.runId, drill: decision.container.drill, reason: decision.reason },
        'removed a container left behind by an earlier firedrill run',
      );
    } catch (error) {
      problems.push(`cannot remove container ${decision.container.id}: ${errorMessage(error)}`);
    }
  }
  return { removed, problems };
}

/**
 * A container that only holds a program to run with `docker exec` (pg_dump of
 * the server's major): `sleep` keeps it up, firedrill's labels mark it, and
 * its removal is registered before it starts.
 */
export async function startToolContainer(options: {
  image: string;
  network: string;
  runId: string;
  drill: string;
  releasers: Releasers;
  /** What the caller can do without Docker, for the message when no engine answers. */
  otherwise: string;
}): Promise<{ container: Dockerode.Container; id: string; release: () => Promise<void> }> {
  const client = await dockerClient(options.otherwise);
  let containerId: string | undefined;
  const removal = options.releasers.add(`pg_dump container (${options.image})`, async () => {
    if (containerId) await removeContainer(client, containerId);
  });
  const { ReportingContainer } = await import('./container-classes.ts');
  const container = new ReportingContainer(options.image, (id) => (containerId = id))
    .withEntrypoint(['sleep', 'infinity'])
    .withLabels(await firedrillLabels({ runId: options.runId, drill: options.drill, role: 'pg_dump' }))
    .withNetworkMode(options.network)
    .withAutoCleanup(false)
    .withWaitStrategy(new Immediately());
  try {
    const started = await container.start();
    return { container: client.container.getById(started.getId()), id: started.getId().slice(0, 12), release: () => removal.release() };
  } catch (error) {
    await removal.release();
    const why = await explainStartFailure(client, error, { image: options.image, imageSetting: 'backup.image', network: options.network, networkSetting: 'backup.network' });
    throw new SandboxError(`cannot start a container for pg_dump: ${why}; or set backup.tool: host`, { cause: error });
  }
}

/**
 * Why a container did not start, with what to do: an image the engine lacks
 * (and whether a pull was even tried), a network that does not exist, or the
 * engine's own words.
 */
export async function explainStartFailure(
  client: ContainerRuntimeClient,
  error: unknown,
  options: { image: string; imageSetting: string; pullSetting?: string; pull?: 'missing' | 'always' | 'never'; network?: string; networkSetting?: string },
): Promise<string> {
  const message = errorMessage(error);
  const { image } = options;
  const { ImageName } = await import('testcontainers');
  if ((await client.image.exists(ImageName.fromString(image)).catch(() => undefined)) === false) {
    // The image firedrill defaults to has a recipe in this repository, for machines without a registry.
    const build = /^postgres:\d+$/.test(image) ? '; without a registry, scripts/build-postgres-image.sh builds it' : '';
    if (options.pull === 'never') {
      return `image ${image} is not on the Docker engine, and ${options.pullSetting ?? 'pull'} is never. Pull or build it (\`docker pull ${image}\`${build}), or set ${options.pullSetting ?? 'pull'}: missing`;
    }
    return `image ${image} is not on the Docker engine and could not be pulled (${message}). Pull or build it (\`docker pull ${image}\`${build}), or set ${options.imageSetting} to an image you have`;
  }
  if (options.network && /network .* not found/i.test(message)) {
    return `Docker network ${options.network} does not exist (see \`docker network ls\`); set ${options.networkSetting ?? 'network'} to an existing network, or host`;
  }
  return `the container (${image}) did not start: ${message}`;
}

/** testcontainers' wait strategies, minus the waiting: for containers whose readiness firedrill checks itself (or needs none). */
export abstract class OwnWaitStrategy implements WaitStrategy {
  protected startupTimeoutMs = 60_000;
  abstract waitUntilReady(container: Dockerode.Container, boundPorts: Parameters<WaitStrategy['waitUntilReady']>[1]): Promise<void>;
  withStartupTimeout(startupTimeoutMs: number): this {
    this.startupTimeoutMs = startupTimeoutMs;
    return this;
  }
  isStartupTimeoutSet(): boolean {
    return true;
  }
  getStartupTimeout(): number {
    return this.startupTimeoutMs;
  }
}

class Immediately extends OwnWaitStrategy {
  async waitUntilReady(): Promise<void> {}
}

async function withTimeout<T>(work: Promise<T>, timeoutMs: number, message: string): Promise<T> {
  const controller = new AbortController();
  const timeout = sleep(timeoutMs, undefined, { signal: controller.signal, ref: false }).then(() => {
    throw new Error(`${message} within ${timeoutMs / 1000}s`);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    controller.abort();
    timeout.catch(() => undefined);
  }
}
