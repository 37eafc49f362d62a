import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, extname, join, relative, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigError, errorMessage, type ConfigProblem } from '../errors.ts';
import { formatBytes } from '../format-bytes.ts';
import { interpolate } from './interpolate.ts';
import { formatPath, issuesToProblems } from './problems.ts';
import { parseWithEnvironment, NAME_PATTERN } from './common.ts';
import { runnerConfigSchema, type RunnerFile } from './runner-schema.ts';
import { declaredTargetTypes, drillSchema, type DrillFile } from './drill-schema.ts';
import { withResolvedTarget } from '../checks/registry.ts';
import type { SourceConfig } from '../engines/registry.ts';
import { BUILT_IN_SANDBOXES, type SandboxConfig } from '../sandbox/registry.ts';
import type { RepositoryConfig } from '../repository/registry.ts';
import type { RestoreDamage } from '../interfaces.ts';

/**
 * Loading config and drill files: YAML → `${VAR}` interpolation → zod
 * validation (which also resolves secrets) → cross-file checks. Every problem
 * in every file is collected and reported together, each with its file and
 * key path.
 */

export const DEFAULT_CONFIG_PATH = 'config/firedrill.yaml';
export const DEFAULT_DRILLS_DIRECTORY = 'drills';

export interface RunnerConfig {
  /** The file it came from; undefined when running on embedded defaults. */
  file: string | undefined;
  cwd: string;
  repositories: Record<string, RepositoryConfig>;
  sandboxes: Record<string, SandboxConfig>;
  defaults: { repository: string; sandbox: string };
  /** Absolute. */
  reportsDirectory: string;
  /** Undefined when not configured: the CLI then picks by where stderr goes. */
  logLevel: RunnerFile['logging']['level'];
  /** The mail server for email notifiers; undefined when not configured. */
  smtp: RunnerFile['smtp'];
  /** `firedrill serve`: its HTTP server, its scheduler, and the coordination of several replicas. */
  server: RunnerFile['server'];
  scheduler: RunnerFile['scheduler'];
  coordination: RunnerFile['coordination'];
}

export type DrillConfig = Omit<DrillFile, 'name' | 'backup' | 'restore'> & {
  name: string;
  /** The drill file, relative to the working directory. */
  file: string;
  backup: Omit<DrillFile['backup'], 'existing'> & {
    repository: string;
    existing?: (NonNullable<DrillFile['backup']['existing']> & { repository: string }) | undefined;
  };
  restore: DrillFile['restore'] & {
    sandbox: string;
    /** Set by `firedrill gameday` on a drill of a damaged copy only; there is no such config key. */
    damage?: RestoreDamage | undefined;
  };
};

export interface LoadOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Resolve `{ env }` / `{ file }` secrets now, reporting missing ones. (Default: true) */
  resolveSecrets?: boolean;
}

/** Config and drill files are read whole: this bounds what one can make firedrill hold. */
const MAX_FILE_BYTES = 1024 * 1024; // "1 MiB" in the message below
/** How many alias expansions a file may cause (yaml's own default): far above what a real config uses. */
const MAX_ALIAS_COUNT = 100;

/** Parses one YAML file and validates it against a schema, collecting every problem. */
async function loadFile<T extends z.ZodType>(
  path: string,
  schema: T,
  options: Required<LoadOptions>,
  emptyValue: unknown,
): Promise<{ value?: z.output<T>; problems: ConfigProblem[]; file: string; input?: unknown }> {
  const file = displayPath(path, options.cwd);
  let text: string;
  try {
    // A config or drill file is a few kilobytes: anything this large is the wrong file, or an attempt to exhaust memory.
    const { size } = await stat(path);
    if (size > MAX_FILE_BYTES) {
      return { file, problems: [{ file, path: '', message: `is ${formatBytes(size)}; config and drill files may be at most 1 MiB (is this the right file?)` }] };
    }
    text = await readFile(path, 'utf8');
  } catch (error) {
    return { file, problems: [{ file, path: '', message: `cannot read the file (${(error as NodeJS.ErrnoException).code ?? String(error)})` }] };
  }
  const document = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (document.errors.length > 0) {
    return {
      file,
      problems: document.errors.map((error) => {
        const position = error.linePos?.[0];
        const where = position ? `line ${position.line}, column ${position.col}: ` : '';
        // The message ends with its own position and a code frame; the position comes first here instead.
        const reason = (error.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
        return { file, path: '', message: `${where}invalid YAML: ${reason}` };
      }),
    };
  }
  let raw: unknown;
  try {
    // yaml refuses to expand aliases past a limit (a "billion laughs" file): a config problem, not a crash.
    raw = document.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) ?? emptyValue;
  } catch (error) {
    return { file, problems: [{ file, path: '', message: `cannot be read as YAML: ${errorMessage(error)}; write the repeated values out instead of nesting aliases` }] };
  }
  if (raw === null) return { file, problems: [{ file, path: '', message: 'is empty' }] };
  const interpolated = interpolate(raw, options.env);
  const problems: ConfigProblem[] = interpolated.problems.map((problem) => ({ file, path: formatPath(problem.path), message: problem.message }));
  const result = parseWithEnvironment(schema, interpolated.value, options.env, { resolveSecrets: options.resolveSecrets });
  if (!result.success) {
    // A key whose variable is missing already has its problem; its follow-on schema error would only confuse.
    const reported = new Set(problems.map((problem) => problem.path));
    problems.push(...issuesToProblems(file, result.error.issues, interpolated.value, schema).filter((problem) => !reported.has(problem.path)));
  }
  return { file, problems, input: interpolated.value, value: problems.length === 0 && result.success ? (result.data as z.output<T>) : undefined };
}

/**
 * Reads `config/firedrill.yaml` (or `path`). When the default file does not
 * exist, firedrill runs on embedded defaults; a path given explicitly must exist.
 */
export async function loadRunnerConfig(path: string | undefined, options: LoadOptions = {}): Promise<RunnerConfig> {
  const resolved = { cwd: options.cwd ?? process.cwd(), env: options.env ?? process.env, resolveSecrets: options.resolveSecrets ?? true };
  const absolute = resolve(resolved.cwd, path ?? DEFAULT_CONFIG_PATH);
  const exists = await readFile(absolute).then(
    () => true,
    () => false,
  );
  let file: string | undefined;
  let parsed: RunnerFile;
  if (!exists && path === undefined) {
    parsed = runnerConfigSchema.parse({});
  } else {
    const loaded = await loadFile(absolute, runnerConfigSchema, resolved, {});
    if (!loaded.value) throw new ConfigError(loaded.problems);
    file = loaded.file;
    parsed = loaded.value;
  }
  const sandboxes = { ...BUILT_IN_SANDBOXES, ...parsed.sandboxes };
  const repositoryNames = Object.keys(parsed.repositories);
  return {
    file,
    cwd: resolved.cwd,
    repositories: parsed.repositories,
    sandboxes,
    defaults: {
      repository: parsed.defaults.repository ?? (repositoryNames.length === 1 ? (repositoryNames[0] as string) : 'local'),
      sandbox: parsed.defaults.sandbox,
    },
    reportsDirectory: resolve(resolved.cwd, parsed.reports.dir),
    logLevel: parsed.logging.level,
    smtp: parsed.smtp,
    server: parsed.server,
    scheduler: parsed.scheduler,
    coordination: parsed.coordination,
  };
}

export interface LoadedDrills {
  drills: DrillConfig[];
  /** Problems per drill name (the file's path when the name is unreadable or invalid). */
  problems: Map<string, ConfigProblem[]>;
  directory: string;
}

/** Reads every `*.yaml` / `*.yml` in the drills directory. Problems are returned, not thrown: the caller decides which drills matter. */
export async function loadDrills(directory: string | undefined, runner: RunnerConfig, options: LoadOptions = {}): Promise<LoadedDrills> {
  const resolved = { cwd: options.cwd ?? runner.cwd, env: options.env ?? process.env, resolveSecrets: options.resolveSecrets ?? true };
  const absolute = resolve(resolved.cwd, directory ?? DEFAULT_DRILLS_DIRECTORY);
  let names: string[];
  try {
    names = (await readdir(absolute)).filter((name) => ['.yaml', '.yml'].includes(extname(name))).sort();
  } catch (error) {
    if (directory === undefined && (error as NodeJS.ErrnoException).code === 'ENOENT') return { drills: [], problems: new Map(), directory: absolute };
    throw new ConfigError([{ file: displayPath(absolute, resolved.cwd), path: '', message: `cannot read the drills directory (${(error as NodeJS.ErrnoException).code ?? String(error)})` }]);
  }

  const drills: DrillConfig[] = [];
  const problems = new Map<string, ConfigProblem[]>();
  const filesByName = new Map<string, string>();
  const addProblems = (name: string, found: ConfigProblem[]) => problems.set(name, [...(problems.get(name) ?? []), ...found]);
  for (const fileName of names) {
    const loaded = await loadFile(join(absolute, fileName), drillSchema, resolved, null);
    const fallbackName = basename(fileName, extname(fileName));
    // Cross-file checks read the raw input, so they are reported along with the file's own problems.
    const input = (loaded.input ?? {}) as {
      name?: unknown;
      backup?: { repository?: unknown; existing?: { repository?: unknown } };
      restore?: { sandbox?: unknown; image?: unknown };
      notify?: unknown;
    };
    const name = typeof input.name === 'string' ? input.name : fallbackName;
    const found = [...loaded.problems];
    // A name set in the file is judged by the schema; only a name taken from the file name is judged here.
    if (!NAME_PATTERN.test(name) && typeof input.name !== 'string') {
      found.push({ file: loaded.file, path: '', message: `the file name "${fallbackName}" is not a valid drill name; rename the file or set name:` });
    }
    const repository = input.backup?.repository ?? runner.defaults.repository;
    if (typeof repository === 'string' && !(repository in runner.repositories)) {
      const where = input.backup?.repository === undefined ? 'backup.repository (from defaults.repository)' : 'backup.repository';
      const available = Object.keys(runner.repositories).join(', ');
      found.push({ file: loaded.file, path: where, message: `names "${repository}", which is not a repository in ${runner.file ?? 'the embedded defaults'} (${available})` });
    }
    const existingRepository = input.backup?.existing?.repository;
    if (typeof existingRepository === 'string' && !(existingRepository in runner.repositories)) {
      found.push({ file: loaded.file, path: 'backup.existing.repository', message: `names "${existingRepository}", which is not a repository (${Object.keys(runner.repositories).join(', ')})` });
    }
    const sandbox = input.restore?.sandbox ?? runner.defaults.sandbox;
    if (typeof sandbox === 'string' && !(sandbox in runner.sandboxes)) {
      found.push({ file: loaded.file, path: 'restore.sandbox', message: `names "${sandbox}", which is not a sandbox (${Object.keys(runner.sandboxes).join(', ')})` });
    }
    // An image means nothing to a local cluster: said now, not as a missing extension after a restore.
    if (input.restore?.image !== undefined && typeof sandbox === 'string' && runner.sandboxes[sandbox]?.type === 'local') {
      found.push({ file: loaded.file, path: 'restore.image', message: `is for a docker sandbox, and "${sandbox}" is a local cluster; set restore.sandbox: docker (or auto)` });
    }
    if (!runner.smtp && Array.isArray(input.notify)) {
      input.notify.forEach((notifier: unknown, index) => {
        if ((notifier as { type?: unknown } | null)?.type === 'email') {
          found.push({ file: loaded.file, path: `notify[${index}]`, message: runner.file ? `sends email, and ${runner.file} has no smtp settings; add smtp: { url, from } there` : `sends email, and there is no runner config with smtp settings; create ${DEFAULT_CONFIG_PATH} with smtp: { url, from }` });
        }
      });
    }
    const firstFile = filesByName.get(name);
    if (firstFile) found.push({ file: loaded.file, path: input.name === undefined ? '' : 'name', message: `drill name "${name}" is also used by ${firstFile}` });
    else filesByName.set(name, loaded.file);
    if (found.length > 0 || !loaded.value) {
      // An invalid name (`../x`, `a; rm -rf`) is never a key: the file's path is, which no drill name can equal.
      addProblems(NAME_PATTERN.test(name) ? name : loaded.file, found);
      continue;
    }
    const drill = loaded.value;
    const targetTypes = declaredTargetTypes(drill) ?? {};
    // Relative files paths are relative to the drill file, wherever firedrill is started from.
    const drillDirectory = dirname(join(absolute, fileName));
    const withAbsolutePaths = <T extends SourceConfig>(source: T): T => (source.type === 'files' ? { ...source, paths: source.paths.map((path) => resolve(drillDirectory, path)) } : source);
    const binDir = drill.backup.binDir === undefined ? undefined : resolve(resolved.cwd, drill.backup.binDir);
    drills.push({
      ...drill,
      name,
      file: loaded.file,
      backup: {
        ...drill.backup,
        repository: repository as string,
        binDir,
        existing: drill.backup.existing && { ...drill.backup.existing, repository: drill.backup.existing.repository ?? (repository as string) },
      },
      restore: { ...drill.restore, sandbox: sandbox as string },
      source: drill.source && withAbsolutePaths(drill.source),
      targets: drill.targets && Object.fromEntries(Object.entries(drill.targets).map(([targetName, target]) => [targetName, withAbsolutePaths(target)])),
      checks: drill.checks.map((check) => withResolvedTarget(check, targetTypes)),
    });
  }
  return { drills, problems, directory: absolute };
}

function displayPath(path: string, cwd: string): string {
  const relativePath = relative(cwd, path);
  return relativePath.startsWith('..') ? path : relativePath;
}
