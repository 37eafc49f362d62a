import { z } from 'zod';
import type { RunContext, Sandbox, SandboxRequirements, SandboxStartOptions, StartedSandbox } from '../interfaces.ts';
import { dockerReachable } from '../docker/docker-client.ts';

export const autoSandboxSchema = z
  .strictObject({
    type: z.literal('auto').describe('The sandbox named "docker" when a Docker engine answers, else the one named "local".'),
  })
  .describe('Picks at each run: a container when Docker is available (isolated, any PostgreSQL major), a local cluster otherwise.');

export type AutoSandboxConfig = z.output<typeof autoSandboxSchema>;

/**
 * The default sandbox. A container is the better place for a restore (the
 * backup's own PostgreSQL major, no access to firedrill's environment), but a
 * machine without Docker can still drill with a local cluster. The choice is
 * made per run and logged, and the report names the sandbox that was used.
 */
export class AutoSandbox implements Sandbox {
  readonly type = 'auto';
  readonly name: string;
  readonly #docker: () => Sandbox;
  readonly #local: () => Sandbox;

  constructor(name: string, choices: { docker: () => Sandbox; local: () => Sandbox }) {
    this.name = name;
    this.#docker = choices.docker;
    this.#local = choices.local;
  }

  async start(context: RunContext, requirements: SandboxRequirements, options?: SandboxStartOptions): Promise<StartedSandbox> {
    const useDocker = await dockerReachable();
    const chosen = useDocker ? this.#docker() : this.#local();
    context.logger.info({ sandbox: chosen.name }, useDocker ? 'a Docker engine answers: restoring into a container' : 'no Docker engine answers: restoring into a local cluster');
    if (!useDocker && options?.image) {
      context.logger.warn({ image: options.image }, 'restore.image is ignored by a local cluster: the restore may lack what that image has (extensions); start Docker for it');
    }
    return chosen.start(context, requirements, options);
  }
}
