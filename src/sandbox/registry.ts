import { z } from 'zod';
import type { Sandbox } from '../interfaces.ts';
import { ConfigError } from '../errors.ts';
import { LocalSandbox, localSandboxSchema } from './local-sandbox.ts';

/** Sandbox types by their config `type`. Adding one: a new file and one line in each list below. */

export const sandboxConfigSchema = z.discriminatedUnion('type', [localSandboxSchema]);
export type SandboxConfig = z.output<typeof sandboxConfigSchema>;

const factories: Record<SandboxConfig['type'], (name: string, config: SandboxConfig, options: { cwd: string }) => Sandbox> = {
  local: (name, config, options) => new LocalSandbox(name, config, options),
};

/** Sandboxes that exist without any configuration, under their type's name. */
export const BUILT_IN_SANDBOXES: Record<string, SandboxConfig> = {
  local: localSandboxSchema.parse({ type: 'local' }),
};

/** The sandbox a drill restores into. */
export function sandboxFor(runner: { sandboxes: Record<string, SandboxConfig>; cwd: string }, drill: { restore: { sandbox: string } }): Sandbox {
  const config = runner.sandboxes[drill.restore.sandbox];
  if (!config) throw new ConfigError([{ file: 'config', path: 'restore.sandbox', message: `unknown sandbox "${drill.restore.sandbox}"` }]);
  return createSandbox(drill.restore.sandbox, config, { cwd: runner.cwd });
}

export function createSandbox(name: string, config: SandboxConfig, options: { cwd: string }): Sandbox {
  return factories[config.type](name, config, options);
}
