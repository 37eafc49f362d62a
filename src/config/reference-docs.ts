/**
 * The README's config and drill file reference, rendered from the same JSON
 * Schemas editors use (themselves generated from the zod schemas). One source
 * of truth: a key cannot be documented differently from how it is validated.
 * A test fails when the README's generated sections are stale.
 */

type JsonSchema = {
  type?: string | string[];
  const?: unknown;
  enum?: unknown[];
  pattern?: string;
  description?: string;
  default?: unknown;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: JsonSchema | boolean;
  items?: JsonSchema | JsonSchema[];
  prefixItems?: JsonSchema[];
  oneOf?: JsonSchema[];
  anyOf?: JsonSchema[];
  minimum?: number;
};

interface Row {
  key: string;
  type: string;
  description: string;
}

export function renderReference(schema: JsonSchema): string {
  const rows: Row[] = [];
  const variants: string[] = [];
  collect(schema, '', rows, variants);
  return [table(rows), ...variants].join('\n');
}

function collect(schema: JsonSchema, prefix: string, rows: Row[], variants: string[]): void {
  for (const [name, property] of Object.entries(schema.properties ?? {})) {
    const key = prefix ? `${prefix}.${name}` : name;
    const required = schema.required?.includes(name) && property.default === undefined;
    const description = `${required ? '**Required.** ' : ''}${property.description ?? ''}`.trim();
    const union = property.oneOf ?? (isArrayOfUnion(property) ? (property.items as JsonSchema).oneOf : undefined) ?? recordUnion(property);
    if (union && union.every((option) => option.properties?.type?.const !== undefined)) {
      const listKey = property.type === 'array' ? `${key}[]` : property.additionalProperties ? `${key}.<name>` : key;
      const kinds = union.map((option) => `\`${String(option.properties?.type?.const)}\``).join(', ');
      rows.push({ key: listKey, type: `one of ${kinds} (by \`type\`)`, description });
      for (const option of union) {
        const optionRows: Row[] = [];
        collect(option, listKey, optionRows, variants);
        const kind = String(option.properties?.type?.const);
        variants.push(`\n**\`${listKey}\` with \`type: ${kind}\`**: ${option.description ?? ''}\n\n${table(optionRows)}`);
      }
      continue;
    }
    if (property.type === 'object' && property.properties && !isSecret(property)) {
      rows.push({ key, type: 'mapping', description });
      collect(property, key, rows, variants);
      continue;
    }
    rows.push({ key, type: typeOf(property), description });
  }
}

function isArrayOfUnion(schema: JsonSchema): boolean {
  return schema.type === 'array' && !Array.isArray(schema.items) && Boolean(schema.items?.oneOf);
}

function recordUnion(schema: JsonSchema): JsonSchema[] | undefined {
  return typeof schema.additionalProperties === 'object' ? schema.additionalProperties.oneOf : undefined;
}

function isSecret(schema: JsonSchema): boolean {
  const options = schema.anyOf ?? schema.oneOf ?? [];
  return options.some((option) => option.properties?.env) && options.some((option) => option.properties?.file);
}

function typeOf(schema: JsonSchema): string {
  if (isSecret(schema)) return 'secret: `{ env: NAME }` or `{ file: PATH }`';
  if (schema.const !== undefined) return `\`${JSON.stringify(schema.const)}\``;
  if (schema.enum) return schema.enum.map((value) => `\`${JSON.stringify(value)}\``).join(' \\| ');
  if (schema.pattern?.includes('ms|s|m|h|d')) return 'duration (`30s`, `10m`, `26h`)';
  if (schema.anyOf || schema.oneOf) return (schema.anyOf ?? schema.oneOf ?? []).map(typeOf).join(' or ');
  if (schema.type === 'array') {
    if (schema.prefixItems) return `[${schema.prefixItems.map(typeOf).join(', ')}]`;
    const items = Array.isArray(schema.items) ? schema.items[0] : schema.items;
    return `list of ${items ? typeOf(items) : 'values'}`;
  }
  if (schema.type === 'object') return schema.additionalProperties ? 'mapping of name to value' : 'mapping';
  if (Array.isArray(schema.type)) return schema.type.join(' or ');
  return schema.type ?? 'any';
}

function table(rows: Row[]): string {
  const escape = (text: string) => text.replaceAll('|', '\\|').replaceAll('\n', ' ');
  return ['| key | type | description |', '| --- | --- | --- |', ...rows.map((row) => `| \`${row.key}\` | ${row.type} | ${escape(row.description)} |`)].join('\n');
}

/** Replaces the text between `<!-- NAME:start -->` and `<!-- NAME:end -->`. */
export function replaceSection(document: string, name: string, content: string): string {
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const from = document.indexOf(start);
  const to = document.indexOf(end);
  if (from < 0 || to < from) throw new Error(`the document has no section ${start} ... ${end}`);
  return `${document.slice(0, from + start.length)}\n${content.trim()}\n${document.slice(to)}`;
}
