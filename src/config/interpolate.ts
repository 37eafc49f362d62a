/**
 * `${VAR}` and `${VAR:-default}` in string values of a parsed YAML tree.
 * Interpolating after parsing (not in the raw text) means a variable's value
 * can never change the structure of the file. `$${` writes a literal `${`.
 */

const REFERENCE = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

export interface InterpolationProblem {
  path: (string | number)[];
  message: string;
}

export function interpolate(
  tree: unknown,
  env: NodeJS.ProcessEnv,
): { value: unknown; problems: InterpolationProblem[] } {
  const problems: InterpolationProblem[] = [];

  const visit = (node: unknown, path: (string | number)[]): unknown => {
    if (typeof node === 'string') return interpolateString(node, env, path, problems);
    if (Array.isArray(node)) return node.map((item, index) => visit(item, [...path, index]));
    if (node !== null && typeof node === 'object') {
      return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, visit(value, [...path, key])]));
    }
    return node;
  };

  return { value: visit(tree, []), problems };
}

function interpolateString(
  text: string,
  env: NodeJS.ProcessEnv,
  path: (string | number)[],
  problems: InterpolationProblem[],
): string {
  if (!text.includes('${')) return text;
  return text.replace(REFERENCE, (match, name: string | undefined, fallback: string | undefined) => {
    if (name === undefined) return '${'; // the `$${` escape
    const value = env[name];
    // As in the shell: `:-` also replaces an empty value.
    if (fallback !== undefined) return value === undefined || value === '' ? fallback : value;
    if (value !== undefined) return value;
    problems.push({
      path,
      message: `environment variable ${name} is not set (used as \${${name}}; set it, or write \${${name}:-default})`,
    });
    return match;
  });
}
