/**
 * `npm run schema`: regenerates config/schema/*.json and the README's
 * reference sections from the zod schemas. Run it after changing a schema;
 * a test fails while either is stale.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { generateJsonSchemas } from '../src/config/json-schema.ts';
import { renderReference, replaceSection } from '../src/config/reference-docs.ts';

const schemas = generateJsonSchemas();
for (const [name, text] of Object.entries(schemas)) {
  await writeFile(`config/schema/${name}`, text);
  console.log(`wrote config/schema/${name}`);
}
let readme = await readFile('README.md', 'utf8');
readme = replaceSection(readme, 'reference:drill', renderReference(JSON.parse(schemas['drill.schema.json'] as string)));
readme = replaceSection(readme, 'reference:config', renderReference(JSON.parse(schemas['firedrill.schema.json'] as string)));
await writeFile('README.md', readme);
console.log('updated the reference sections of README.md');
