import { z } from 'zod';
import type { Check } from '../interfaces.ts';
import { SqlCheck, sqlCheckSchema } from './sql-check.ts';
import { FingerprintCheck, fingerprintCheckSchema } from './fingerprint-check.ts';
import { FreshnessCheck, freshnessCheckSchema } from './freshness-check.ts';

/** Check types by their config `type`. Adding one: a new file and one line in each list below. */

export const checkConfigSchema = z.discriminatedUnion('type', [sqlCheckSchema, fingerprintCheckSchema, freshnessCheckSchema]);
export type CheckConfig = z.output<typeof checkConfigSchema>;

/** Drill-level settings a check may default to. */
export interface CheckDefaults {
  jobs: number;
}

type Factory<T extends CheckConfig['type']> = (config: Extract<CheckConfig, { type: T }>, defaults: CheckDefaults) => Check;

const factories: { [T in CheckConfig['type']]: Factory<T> } = {
  sql: (config) => new SqlCheck(config),
  fingerprint: (config, defaults) => new FingerprintCheck(config, defaults),
  freshness: (config) => new FreshnessCheck(config),
};

export function createCheck(config: CheckConfig, defaults: CheckDefaults): Check {
  return factories[config.type](config as never, defaults);
}
