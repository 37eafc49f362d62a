import { z } from 'zod';
import type { Repository } from '../interfaces.ts';
import { ConfigError } from '../errors.ts';
import { LocalRepository, localRepositorySchema } from './local-repository.ts';
import { S3Repository, s3RepositorySchema } from './s3-repository.ts';

/** Repository types by their config `type`. Adding one: a new file and one line in each list below. */

export const repositoryConfigSchema = z.discriminatedUnion('type', [localRepositorySchema, s3RepositorySchema]);
export type RepositoryConfig = z.output<typeof repositoryConfigSchema>;

type Factory = (name: string, config: RepositoryConfig, options: { cwd: string }) => Repository;

const factories: Record<RepositoryConfig['type'], Factory> = {
  local: (name, config, options) => new LocalRepository(name, config as Extract<RepositoryConfig, { type: 'local' }>, options),
  s3: (name, config) => new S3Repository(name, config as Extract<RepositoryConfig, { type: 's3' }>),
};

/** The repository a drill's backups go to. */
export function repositoryFor(runner: { repositories: Record<string, RepositoryConfig>; cwd: string }, drill: { backup: { repository: string } }): Repository {
  const config = runner.repositories[drill.backup.repository];
  if (!config) throw new ConfigError([{ file: 'config', path: 'backup.repository', message: `unknown repository "${drill.backup.repository}"` }]);
  return createRepository(drill.backup.repository, config, { cwd: runner.cwd });
}

export function createRepository(name: string, config: RepositoryConfig, options: { cwd: string }): Repository {
  const factory = factories[config.type];
  if (!factory) throw new ConfigError([{ file: 'config', path: `repositories.${name}.type`, message: `unsupported repository type: ${String(config.type)}` }]);
  return factory(name, config, options);
}
