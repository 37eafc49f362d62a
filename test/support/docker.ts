import { ImageName } from 'testcontainers';
import { dockerClient, dockerReachable, listFiredrillContainers, type FiredrillContainer } from '../../src/docker/docker-client.ts';
import { findTools } from '../../src/engines/postgres/postgres-tools.ts';
import { describeNeeding } from './prerequisite.ts';

/**
 * Docker tests need an engine and the image `postgres:<major>` of the
 * PostgreSQL the test sources run (the host's newest), which
 * scripts/build-postgres-image.sh builds without a registry. They never skip
 * silently: with FIREDRILL_REQUIRE_DOCKER=1 (set by .ci/run) a missing engine
 * or image fails the suite; without it they are skipped with the reason in
 * their name.
 */

async function probe(): Promise<{ image: string; missing?: string }> {
  const major = (await findTools('postgres')).at(-1)?.major ?? 0;
  const image = `postgres:${major}`;
  if (!(await dockerReachable())) return { image, missing: 'no Docker engine is reachable (start dockerd, or set DOCKER_HOST)' };
  const client = await dockerClient();
  if (!(await client.image.exists(ImageName.fromString(image)))) {
    return { image, missing: `the Docker engine has no image ${image} (build it with scripts/build-postgres-image.sh)` };
  }
  return { image };
}

const state = await probe();

/** The image the sandbox uses by default for the test sources. */
export const SANDBOX_IMAGE = state.image;

export function describeWithDocker(name: string, body: () => void): void {
  describeNeeding({ what: 'Docker', missing: state.missing, requiredBy: 'FIREDRILL_REQUIRE_DOCKER' }, name, body);
}

/** Firedrill containers started by these processes (their owner label names the pid), when an engine answers. */
export async function containersOwnedBy(pids: Set<number>): Promise<FiredrillContainer[]> {
  if (pids.size === 0 || state.missing?.startsWith('no Docker engine')) return [];
  const containers = await listFiredrillContainers(await dockerClient());
  return containers.filter((container) => typeof container.owner.pid === 'number' && pids.has(container.owner.pid));
}
