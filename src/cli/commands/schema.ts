import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Output } from '../output.ts';
import { generateJsonSchemas } from '../../config/json-schema.ts';
import { EXIT } from '../exit-codes.ts';

/** `firedrill schema [--write DIR]`: the JSON Schemas of config and drill files, for editors and CI. */
export async function schemaCommand(flags: { write?: string }, output: Output): Promise<number> {
  const files = generateJsonSchemas();
  if (!flags.write) {
    output.out(files['drill.schema.json'] ?? '');
    return EXIT.PASSED;
  }
  await mkdir(flags.write, { recursive: true });
  for (const [name, text] of Object.entries(files)) {
    await writeFile(join(flags.write, name), text);
    output.out(`wrote ${join(flags.write, name)}`);
  }
  return EXIT.PASSED;
}
