import { z } from 'zod';
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
