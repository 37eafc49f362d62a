import { z } from 'zod';
import type { Sandbox } from '../interfaces.ts';
import { ConfigError } from '../errors.ts';
import { LocalSandbox, localSandboxSchema } from './local-sandbox.ts';
import { DockerSandbox, dockerSandboxSchema } from './docker-sandbox.ts';
import { AutoSandbox, autoSandboxSchema } from './auto-sandbox.ts';

/** Sandbox types by their config `type`. Adding one: a new file and one line in each list below. */

export const sandboxConfigSchema = z.discriminatedUnion('type', [dockerSandboxSchema, localSandboxSchema, autoSandboxSchema]);
export type SandboxConfig = z.output<typeof sandboxConfigSchema>;

interface SandboxEnvironment {
  cwd: string;
  /** Every configured sandbox, for `auto` to choose from. */
  sandboxes: Record<string, SandboxConfig>;
}

const factories: { [Type in SandboxConfig['type']]: (name: string, config: Extract<SandboxConfig, { type: Type }>, environment: SandboxEnvironment) => Sandbox } = {
  docker: (name, config) => new DockerSandbox(name, config),
  local: (name, config, environment) => new LocalSandbox(name, config, environment),
  auto: (name, _config, environment) =>
    new AutoSandbox(name, {
      // The runner's sandboxes always hold these two (built in, or configured by that name with that type).
      docker: () => createSandbox('docker', environment.sandboxes['docker'] as SandboxConfig, environment),
      local: () => createSandbox('local', environment.sandboxes['local'] as SandboxConfig, environment),
    }),
};

/** Sandboxes that exist without any configuration, under their type's name. Configuring one by that name changes its settings. */
export const BUILT_IN_SANDBOXES: Record<string, SandboxConfig> = {
  auto: autoSandboxSchema.parse({ type: 'auto' }),
  docker: dockerSandboxSchema.parse({ type: 'docker' }),
  local: localSandboxSchema.parse({ type: 'local' }),
};

/** The sandbox a drill restores into. */
export function sandboxFor(runner: { sandboxes: Record<string, SandboxConfig>; cwd: string }, drill: { restore: { sandbox: string } }): Sandbox {
  const config = runner.sandboxes[drill.restore.sandbox];
  if (!config) throw new ConfigError([{ file: 'config', path: 'restore.sandbox', message: `unknown sandbox "${drill.restore.sandbox}"` }]);
  return createSandbox(drill.restore.sandbox, config, runner);
}

export function createSandbox(name: string, config: SandboxConfig, environment: SandboxEnvironment): Sandbox {
  return (factories[config.type] as (name: string, config: SandboxConfig, environment: SandboxEnvironment) => Sandbox)(name, config, environment);
}
