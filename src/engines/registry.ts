import { z } from 'zod';
import type { Engine } from '../interfaces.ts';
import { PostgresEngine } from './postgres/postgres-engine.ts';
import { postgresSourceSchema } from './postgres/postgres-source.ts';
import { FilesEngine } from './files/files-engine.ts';
import { filesSourceSchema } from './files/files-source.ts';

/** Engines by source `type`. Adding one: a folder under engines/ and one line in each list below. */

export const sourceConfigSchema = z.discriminatedUnion('type', [postgresSourceSchema, filesSourceSchema]);
export type SourceConfig = z.output<typeof sourceConfigSchema>;

const engines: Record<SourceConfig['type'], Engine<never>> = {
  postgres: new PostgresEngine(),
  files: new FilesEngine(),
};

export function engineFor(type: string): Engine<never> {
  const engine = engines[type as SourceConfig['type']];
  if (!engine) throw new Error(`unsupported source type: ${type}`);
  return engine;
}
