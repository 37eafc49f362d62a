import { z } from 'zod';
import { runnerConfigSchema } from './runner-schema.ts';
import { drillSchema } from './drill-schema.ts';

/**
 * JSON Schemas for editors, generated from the zod schemas so they can never
 * disagree with validation. Committed under config/schema/; a test fails when
 * they are stale (regenerate with `npm run schema`).
 */

export const SCHEMA_FILES = {
  'firedrill.schema.json': { schema: runnerConfigSchema, title: 'firedrill runner config (config/firedrill.yaml)' },
  'drill.schema.json': { schema: drillSchema, title: 'firedrill drill (drills/<name>.yaml)' },
} as const;

export function generateJsonSchemas(): Record<string, string> {
  const files: Record<string, string> = {};
  for (const [fileName, { schema, title }] of Object.entries(SCHEMA_FILES)) {
    // `input`: what people write (durations as "10m"), not what firedrill turns it into.
    const jsonSchema = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' });
    files[fileName] = `${JSON.stringify({ ...jsonSchema, title }, null, 2)}\n`;
  }
  return files;
}
