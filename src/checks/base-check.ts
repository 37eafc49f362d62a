import { z } from 'zod';
import type { Check, CheckContext, CheckOutcome } from '../interfaces.ts';
import { timeoutSchema } from '../config/common.ts';

/** Fields every check has. Each check type spreads these into its own schema. */
export function commonCheckFields(defaultTimeout: string) {
  return {
    name: z.string().min(1).optional().describe('Shown in reports; unique within the drill. (Default: the check type)'),
    timeout: timeoutSchema(`How long the check may run; its queries get the same statement_timeout. (Default: ${defaultTimeout})`).prefault(
      defaultTimeout,
    ),
  };
}

interface CommonCheckConfig {
  type: string;
  name?: string | undefined;
  timeout: number;
}

/** What every check does with its common fields; a check type adds only its `run`. */
export abstract class BaseCheck<TConfig extends CommonCheckConfig> implements Check {
  readonly type: TConfig['type'];
  readonly name: string;
  readonly timeoutMs: number;
  protected readonly config: TConfig;

  constructor(config: TConfig) {
    this.config = config;
    this.type = config.type;
    this.name = config.name ?? config.type;
    this.timeoutMs = config.timeout;
  }

  abstract run(context: CheckContext): Promise<CheckOutcome>;
}
