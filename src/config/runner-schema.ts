import { z } from 'zod';
import { durationSchema, nameSchema, secretSchema, timezoneSchema } from './common.ts';
import { smtpConfigSchema } from '../notify/email-notifier.ts';
import { LOG_LEVELS } from '../logger.ts';
import { repositoryConfigSchema } from '../repository/registry.ts';
import { BUILT_IN_SANDBOXES, sandboxConfigSchema } from '../sandbox/registry.ts';

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
      .describe(
        'Throwaway restore targets, by name. "docker", "local" and "auto" exist without configuration; configure one by that name here to change its settings.',
      ),
    defaults: z
      .strictObject({
        repository: nameSchema.optional().describe('Repository for drills that name none. (Default: the only repository, or "local")'),
        sandbox: nameSchema
          .default('auto')
          .describe('Sandbox for drills that name none. auto: a Docker container when a Docker engine answers, else a local cluster. (Default: auto)'),
      })
      .prefault({})
      .describe('What drills use when they do not say.'),
    reports: z
      .strictObject({
        dir: z.string().default('./var/reports').describe('Directory for JSON reports, one per run: <dir>/<drill>/<runId>.json. (Default: ./var/reports)'),
      })
      .prefault({})
      .describe('Where run reports are written.'),
    smtp: smtpConfigSchema.optional().describe('The mail server for email notifications (drills\' notify: type email). (Default: none; email notifiers are a config error without it)'),
    server: z
      .strictObject({
        host: z.string().min(1).default('127.0.0.1').describe('Address `firedrill serve` listens on. Keep it on loopback unless a proxy or a network boundary protects it. (Default: 127.0.0.1)'),
        port: z.int().min(0).max(65535).default(9750).describe('Port of the dashboard, the API, /metrics and the health checks; 0 picks a free one. (Default: 9750)'),
        token: secretSchema
          .optional()
          .describe('Bearer token that POST /api/drills/<name>/run requires, as a secret reference. (Default: none: on-demand runs over HTTP are disabled)'),
      })
      .prefault({})
      .describe('The HTTP server of `firedrill serve`.'),
    scheduler: z
      .strictObject({
        timezone: timezoneSchema
          .optional()
          .describe("Timezone drills' schedules are read in, unless a drill sets its own, e.g. UTC or Europe/Berlin. (Default: the host's)"),
        concurrency: z.int().min(1).default(1).describe('How many drills run at once; further fires wait, in order. (Default: 1)'),
        maxRandomDelay: durationSchema('Up to this much random delay before each scheduled run, so drills with the same schedule do not start on the same second. (Default: 0s)').default(0),
        shutdownGrace: durationSchema(
          'On SIGTERM or SIGINT, how long running drills may take to finish before they are aborted (their sandboxes removed, status aborted). (Default: 30s)',
        ).default(30_000),
      })
      .prefault({})
      .describe('How `firedrill serve` runs drills that have a schedule.'),
    coordination: z
      .strictObject({
        postgres: secretSchema.describe(
          'A PostgreSQL connection URL (a secret reference: it holds a password) shared by every replica: each scheduled fire of a drill then runs exactly once across them, and a drill never runs on two at once.',
        ),
      })
      .optional()
      .describe('Several `firedrill serve` replicas with the same config. (Default: none: every replica runs every fire)'),
    logging: z
      .strictObject({
        level: z
          .enum(LOG_LEVELS)
          .optional()
          .describe('pino log level; logs are JSON lines on stderr. (Default: warn when stderr is a terminal, info otherwise, as under cron or a service manager)'),
      })
      .prefault({})
      .describe('Logging.'),
  })
  .superRefine(
    (config, context) => {
      // Runs even when other keys failed, so this problem is reported with the rest.
      const repositories = Object.keys(typeof config.repositories === 'object' ? config.repositories : {});
      const wanted = (config.defaults as { repository?: unknown } | undefined)?.repository;
      if (typeof wanted === 'string' && !repositories.includes(wanted)) {
        context.addIssue({ code: 'custom', path: ['defaults', 'repository'], message: `names "${wanted}", which is not in repositories (${repositories.join(', ') || 'none'})` });
      }
      if (wanted === undefined && repositories.length > 1 && !repositories.includes('local')) {
        context.addIssue({ code: 'custom', path: ['defaults', 'repository'], message: `is required when there are several repositories (${repositories.join(', ')})` });
      }
      // A built-in name configured anew keeps its type: `auto` chooses between the sandboxes named docker and local.
      for (const [name, sandboxConfig] of Object.entries(typeof config.sandboxes === 'object' ? config.sandboxes : {})) {
        const type = (sandboxConfig as { type?: unknown } | undefined)?.type;
        if (name in BUILT_IN_SANDBOXES && typeof type === 'string' && type !== name) {
          context.addIssue({ code: 'custom', path: ['sandboxes', name, 'type'], message: `must be "${name}" for the built-in sandbox "${name}"; give a sandbox of type ${type} another name` });
        }
      }
      const sandboxes = [...new Set([...Object.keys(BUILT_IN_SANDBOXES), ...Object.keys(typeof config.sandboxes === 'object' ? config.sandboxes : {})])];
      const sandbox = (config.defaults as { sandbox?: unknown } | undefined)?.sandbox;
      if (typeof sandbox === 'string' && !sandboxes.includes(sandbox)) {
        context.addIssue({ code: 'custom', path: ['defaults', 'sandbox'], message: `names "${sandbox}", which is not a sandbox (${sandboxes.join(', ')})` });
      }
    },
    { when: () => true },
  )
  .describe('firedrill runner configuration: repositories, sandboxes, defaults, reports, smtp, the scheduler service and logging.');

export type RunnerFile = z.output<typeof runnerConfigSchema>;
