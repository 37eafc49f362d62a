import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateJsonSchemas } from '../../../src/config/json-schema.ts';

// This test is what keeps the committed JSON Schemas current: editors validate drill files against them.
const SCHEMA_DIRECTORY = join(import.meta.dirname, '../../../config/schema');

describe('the committed JSON Schemas', () => {
  const generated = generateJsonSchemas();

  it('are exactly the files generateJsonSchemas produces', async () => {
    const committed = (await readdir(SCHEMA_DIRECTORY)).filter((name) => name.endsWith('.json')).sort();

    expect(committed, 'config/schema/ has other files than generateJsonSchemas() produces: run npm run schema').toEqual(Object.keys(generated).sort());
  });

  it.each(Object.keys(generated))('%s equals the output of generateJsonSchemas()', async (fileName) => {
    const committed = await readFile(join(SCHEMA_DIRECTORY, fileName), 'utf8');

    expect(committed, `config/schema/${fileName} is stale: run npm run schema`).toBe(generated[fileName]);
  });

  it('describe drill files as people write them, with durations as text', () => {
    const drill = JSON.parse(generated['drill.schema.json']!);

    expect(drill.title).toBe('firedrill drill (drills/<name>.yaml)');
    expect(drill.properties.objectives.properties.rto.type).toBe('string');
  });
});
