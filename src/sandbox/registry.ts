import { z } from 'zod';
import type { Sandbox } from '../interfaces.ts';
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

export function createSandbox(name: string, config: SandboxConfig, options: { cwd: string }): Sandbox {
  return factories[config.type](name, config, options);
}
