import { GenericContainer, PullPolicy, type ImagePullPolicy } from 'testcontainers';

/**
 * The testcontainers classes firedrill extends. testcontainers costs about
 * 50 MB of memory and a fifth of a second to load, and most runs never start
 * a container (a local repository, a local sandbox, pg_dump on the host):
 * this module is imported only when one starts, so a backup's process stays
 * small and its garbage collections cheap.
 */

/** GenericContainer that reports its id the moment the container exists, so a failed start still removes it. */
export class ReportingContainer extends GenericContainer {
  readonly #onCreated: (id: string) => void;

  constructor(image: string, onCreated: (id: string) => void) {
    super(image);
    this.#onCreated = onCreated;
  }

  protected override containerCreated(containerId: string): Promise<void> {
    this.#onCreated(containerId);
    return Promise.resolve();
  }
}

/**
 * Publishes the port on 127.0.0.1 only. Docker publishes on every interface
 * by default, and a sandbox holds a copy of production data.
 */
export class SandboxContainer extends ReportingContainer {
  protected override beforeContainerCreated(): Promise<void> {
    const portBindings = (this.hostConfig.PortBindings ?? {}) as Record<string, { HostIp?: string }[]>;
    for (const bindings of Object.values(portBindings)) {
      for (const binding of bindings) binding.HostIp = '127.0.0.1';
    }
    return Promise.resolve();
  }
}

export function pullPolicy(pull: 'missing' | 'always' | 'never'): ImagePullPolicy {
  if (pull === 'always') return PullPolicy.alwaysPull();
  if (pull === 'never') return PullPolicy.neverPull();
  return PullPolicy.defaultPolicy();
}
