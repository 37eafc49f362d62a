import { z } from 'zod';
import type { Check, TargetType } from '../interfaces.ts';
import { SqlCheck, sqlCheckSchema } from './sql-check.ts';
import { FingerprintCheck, fingerprintCheckSchema } from './fingerprint-check.ts';
import { FreshnessCheck, freshnessCheckSchema } from './freshness-check.ts';
import { FilesCheck, filesCheckSchema } from './files-check.ts';
import { CommandCheck, commandCheckSchema } from './command-check.ts';
import { ReferencesCheck, referencesCheckSchema } from './references-check.ts';

/** Check types by their config `type`. Adding one: a new file and one line in each list below. */

export const checkConfigSchema = z.discriminatedUnion('type', [
  sqlCheckSchema,
  fingerprintCheckSchema,
  freshnessCheckSchema,
  filesCheckSchema,
  commandCheckSchema,
  referencesCheckSchema,
]);
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
  files: (config) => new FilesCheck(config),
  command: (config) => new CommandCheck(config),
  references: (config) => new ReferencesCheck(config),
};

/** The kind of target each check type runs against, and the keys that name further targets it reads. */
const targetsOf: { [T in CheckConfig['type']]: { target: TargetType; others?: Record<string, TargetType> } } = {
  sql: { target: 'postgres' },
  fingerprint: { target: 'postgres' },
  freshness: { target: 'postgres' },
  files: { target: 'files' },
  command: { target: 'files' },
  references: { target: 'postgres', others: { files: 'files' } },
};

export function createCheck(config: CheckConfig, defaults: CheckDefaults): Check {
  return (factories[config.type] as Factory<typeof config.type>)(config, defaults);
}

/**
 * What is wrong with the targets a check names, given the drill's targets and
 * their types: a name that is not a target, a target of the wrong kind, or no
 * name where the drill has several targets of the kind. Undefined when fine.
 * Takes the raw check, since it runs while the rest of the file is validated.
 */
export function checkTargetProblem(check: unknown, targets: Record<string, TargetType>): { path: string[]; message: string } | undefined {
  const config = check as { type?: unknown; target?: unknown } & Record<string, unknown>;
  const wanted = targetsOf[config.type as CheckConfig['type']];
  if (!wanted) return undefined;
  const named = (key: string, type: TargetType, value: unknown) => {
    const candidates = Object.keys(targets).filter((name) => targets[name] === type);
    if (value === undefined) {
      if (candidates.length === 1) return undefined;
      return candidates.length === 0
        ? { path: [key], message: `a ${config.type as string} check needs a ${type} target, and this drill has none` }
        : { path: [key], message: `is required: this drill has several ${type} targets (${candidates.join(', ')}); name the one this check reads` };
    }
    if (typeof value !== 'string') return undefined;
    if (targets[value] === undefined) return { path: [key], message: `names "${value}", which is not a target of this drill (targets: ${Object.keys(targets).join(', ')})` };
    if (targets[value] !== type) return { path: [key], message: `names "${value}", a ${targets[value]} target; a ${config.type as string} check needs a ${type} target` };
    return undefined;
  };
  const own = named('target', wanted.target, config.target);
  if (own) return own;
  for (const [key, type] of Object.entries(wanted.others ?? {})) {
    // Further targets are always named: which files a query's paths are relative to is not a guess.
    if (config[key] === undefined) continue;
    const problem = named(key, type, config[key]);
    if (problem) return problem;
  }
  return undefined;
}

/** The check with its target filled in: the drill's only target of the kind it needs, when it names none. Valid drills only. */
export function withResolvedTarget<T extends CheckConfig>(check: T, targets: Record<string, TargetType>): T {
  if (check.target !== undefined) return check;
  const wanted = targetsOf[check.type].target;
  const [only] = Object.keys(targets).filter((name) => targets[name] === wanted);
  return { ...check, target: only };
}
