import { z } from 'zod';
import { nameSchema } from './common.ts';
import { LOG_LEVELS } from '../logger.ts';
import { repositoryConfigSchema } from '../repository/registry.ts';
import { sandboxConfigSchema } from '../sandbox/registry.ts';

/**
 * `config/firedrill.yaml`: settings shared by every drill. Every key has a
 * default, so firedrill runs without the file at all (the embedded defaults).
 */

export const DEFAULT_REPOSITORIES = { local: { type: 'local', path: './var/backups' } } as const;

export const runnerConfigSchema = z
  .strictObject({
    repositories: z
      .record(nameSchema, repositoryConfigSchema)
      .prefault(DEFAULT_REPOSITORIES)
      .describe('Where backups live, by name. (Default: local: { type: local, path: ./var/backups })'),
    sandboxes: z
      .record(nameSchema, sandboxConfigSchema)
      .default({})
      .describe('Throwaway restore targets, by name. "local" exists without configuration; configure it here to change its settings.'),
    defaults: z
      .strictObject({
        repository: nameSchema.optional().describe('Repository for drills that name none. (Default: the only repository, or "local")'),
        sandbox: nameSchema.default('local').describe('Sandbox for drills that name none. (Default: local)'),
      })
      .prefault({})
      .describe('What drills use when they do not say.'),
    reports: z
      .strictObject({
        dir: z.string().default('./var/reports').describe('Directory for JSON reports, one per run: <dir>/<drill>/<runId>.json. (Default: ./var/reports)'),
      })
      .prefault({})
      .describe('Where run reports are written.'),
    logging: z
      .strictObject({
        level: z.enum(LOG_LEVELS).default('info').describe('pino log level; logs are JSON lines on stderr. (Default: info)'),
      })
      .prefault({})
      .describe('Logging.'),
  })
  .superRefine((config, context) => {
    const repositories = Object.keys(config.repositories);
    const wanted = config.defaults.repository;
    if (wanted !== undefined && !repositories.includes(wanted)) {
      context.addIssue({ code: 'custom', path: ['defaults', 'repository'], message: `names "${wanted}", which is not in repositories (${repositories.join(', ') || 'none'})` });
    }
    if (wanted === undefined && repositories.length > 1 && !repositories.includes('local')) {
      context.addIssue({ code: 'custom', path: ['defaults', 'repository'], message: `is required when there are several repositories (${repositories.join(', ')})` });
    }
  })
  .describe('firedrill runner configuration: repositories, sandboxes, defaults, reports and logging.');

export type RunnerFile = z.output<typeof runnerConfigSchema>;
