import { z } from 'zod';
import type { Check, CheckContext, CheckOutcome } from '../interfaces.ts';
import { nameSchema, timeoutSchema } from '../config/common.ts';

/** Fields every check has. Each check type spreads these into its own schema. */
export function commonCheckFields(defaultTimeout: string) {
  return {
    name: z.string().min(1).optional().describe('Shown in reports; unique within the drill. (Default: the check type)'),
    target: nameSchema
      .optional()
      .describe('The target it runs against, by name (a key of targets). (Default: the drill\'s only target of the kind this check needs)'),
    timeout: timeoutSchema(`How long the check may run; its queries get the same statement_timeout. (Default: ${defaultTimeout})`).prefault(
      defaultTimeout,
    ),
  };
}

interface CommonCheckConfig {
  type: string;
  name?: string | undefined;
  target?: string | undefined;
  timeout: number;
}

/** What every check does with its common fields; a check type adds only its `run`. */
export abstract class BaseCheck<TConfig extends CommonCheckConfig> implements Check {
  readonly type: TConfig['type'];
  readonly name: string;
  readonly timeoutMs: number;
  readonly target: string;
  protected readonly config: TConfig;

  /** `target` is the resolved one (the drill's loader fills in a default). */
  constructor(config: TConfig) {
    this.config = config;
    this.type = config.type;
    this.name = config.name ?? config.type;
    this.timeoutMs = config.timeout;
    this.target = config.target ?? 'source';
  }

  abstract run(context: CheckContext): Promise<CheckOutcome>;
}
