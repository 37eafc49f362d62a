import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateJsonSchemas } from '../../../src/config/json-schema.ts';
import { renderReference, replaceSection } from '../../../src/config/reference-docs.ts';

// This test keeps the README's reference in step with the schemas it is generated from.
const README = join(import.meta.dirname, '../../../README.md');

describe("the README's reference sections", () => {
  it('are exactly what the schemas render to', async () => {
    const schemas = generateJsonSchemas();
    const committed = await readFile(README, 'utf8');
    let expected = replaceSection(committed, 'reference:drill', renderReference(JSON.parse(schemas['drill.schema.json']!)));
    expected = replaceSection(expected, 'reference:config', renderReference(JSON.parse(schemas['firedrill.schema.json']!)));

    expect(committed, 'README.md reference is stale: run npm run schema').toBe(expected);
  });

  it('documents every check type and the secret form of the source password', async () => {
    const readme = await readFile(README, 'utf8');

    for (const heading of ['`checks[]` with `type: sql`', '`checks[]` with `type: fingerprint`', '`checks[]` with `type: freshness`', '`source` with `type: postgres`']) {
      expect(readme).toContain(heading);
    }
    expect(readme).toMatch(/\| `source\.password` \| secret: `\{ env: NAME \}` or `\{ file: PATH \}` \|/);
  });
});

describe('replaceSection', () => {
  it('replaces only the text between the markers', () => {
    expect(replaceSection('a\n<!-- x:start -->\nold\n<!-- x:end -->\nb', 'x', 'new')).toBe('a\n<!-- x:start -->\nnew\n<!-- x:end -->\nb');
  });

  it('refuses a document without the markers', () => {
    expect(() => replaceSection('no markers here', 'x', 'new')).toThrow('the document has no section <!-- x:start -->');
  });
});
