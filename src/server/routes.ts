/**
 * Which route a request is for, from its method and path alone. Path
 * segments are percent-decoded one by one, after splitting, so an encoded
 * slash (`..%2f..%2fetc`) stays inside its segment; what the segments name
 * (a configured drill, a run id) is checked by the handlers, which never
 * build a file path from a segment they have not checked.
 */

export type Route =
  | { name: 'health' }
  | { name: 'ready' }
  | { name: 'metrics' }
  | { name: 'dashboard' }
  /** `run` is a run id or `latest`, as written: the handler checks it. */
  | { name: 'report page'; drill: string; run: string }
  | { name: 'drills' }
  | { name: 'drill runs'; drill: string }
  | { name: 'run'; runId: string }
  | { name: 'request run'; drill: string };

export type RouteMatch = { kind: 'route'; route: Route } | { kind: 'not found' } | { kind: 'method not allowed'; allow: string[] };

const READ = ['GET', 'HEAD'];
const WRITE = ['POST'];

/** A path pattern: literal segments, and `:name` for a segment handed to `build`. */
interface RouteDefinition {
  pattern: string[];
  methods: string[];
  build(parameters: string[]): Route | undefined;
}

const definitions: RouteDefinition[] = [
  { pattern: [], methods: READ, build: () => ({ name: 'dashboard' }) },
  { pattern: ['healthz'], methods: READ, build: () => ({ name: 'health' }) },
  { pattern: ['readyz'], methods: READ, build: () => ({ name: 'ready' }) },
  { pattern: ['metrics'], methods: READ, build: () => ({ name: 'metrics' }) },
  {
    pattern: ['reports', ':drill', ':page'],
    methods: READ,
    build: ([drill, page]) => (drill !== undefined && page?.endsWith('.html') ? { name: 'report page', drill, run: page.slice(0, -'.html'.length) } : undefined),
  },
  { pattern: ['api', 'drills'], methods: READ, build: () => ({ name: 'drills' }) },
  { pattern: ['api', 'drills', ':drill', 'runs'], methods: READ, build: ([drill]) => (drill === undefined ? undefined : { name: 'drill runs', drill }) },
  { pattern: ['api', 'drills', ':drill', 'run'], methods: WRITE, build: ([drill]) => (drill === undefined ? undefined : { name: 'request run', drill }) },
  { pattern: ['api', 'runs', ':id'], methods: READ, build: ([runId]) => (runId === undefined ? undefined : { name: 'run', runId }) },
];

export function matchRoute(method: string, pathname: string): RouteMatch {
  const segments = pathSegments(pathname);
  if (!segments) return { kind: 'not found' };
  for (const definition of definitions) {
    const parameters = matchPattern(definition.pattern, segments);
    if (!parameters) continue;
    const route = definition.build(parameters);
    if (!route) continue;
    if (!definition.methods.includes(method)) return { kind: 'method not allowed', allow: definition.methods };
    return { kind: 'route', route };
  }
  return { kind: 'not found' };
}

/** `/api/drills/` and `/api/drills` are the same; an empty segment inside (`/api//drills`) or one that does not decode matches nothing. */
export function pathSegments(pathname: string): string[] | undefined {
  if (!pathname.startsWith('/')) return undefined;
  const raw = pathname.slice(1).replace(/\/$/, '');
  if (raw === '') return [];
  const segments: string[] = [];
  for (const segment of raw.split('/')) {
    if (segment === '') return undefined;
    try {
      segments.push(decodeURIComponent(segment));
    } catch {
      return undefined;
    }
  }
  return segments;
}

function matchPattern(pattern: string[], segments: string[]): string[] | undefined {
  if (pattern.length !== segments.length) return undefined;
  const parameters: string[] = [];
  for (const [index, part] of pattern.entries()) {
    const segment = segments[index] as string;
    if (part.startsWith(':')) parameters.push(segment);
    else if (part !== segment) return undefined;
  }
  return parameters;
}
