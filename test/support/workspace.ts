import { createHash } from 'node:crypto';
import { containersOwnedBy } from './docker.ts';
import { plantedSecretValues, secretsIn } from './canaries.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';

/**
 * A directory laid out the way a team keeps firedrill: config/, drills/, and
 * var/ for backups and reports. The CLI runs in it as a real process, with
 * TMPDIR pointing inside, so every sandbox it creates can be found, and
 * anything left behind shows up in `leftovers()`.
 */

export const CLI = resolve(import.meta.dirname, '../../dist/cli/bin.js');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface Workspace {
  directory: string;
  /** TMPDIR of every CLI run in this workspace. */
  temporary: string;
  writeFile(relativePath: string, text: string): Promise<void>;
  run(args: string[], env?: Record<string, string>): Promise<CliResult>;
  start(args: string[], env?: Record<string, string>): { child: ChildProcess; result: Promise<CliResult> };
  /** Temp entries, processes and containers of this workspace's runs that still exist. Kept sandboxes count too. */
  leftovers(): Promise<{ temporaryEntries: string[]; processes: string[]; containers: string[] }>;
  /**
   * Where a planted secret (see canaries.ts) showed up: the stdout or stderr of
   * any CLI run of this workspace, a file under var/ (reports, backups, JUnit,
   * metrics), or a command line seen while a CLI run was going on.
   */
  leaks(): Promise<string[]>;
  remove(): Promise<void>;
}

export async function createWorkspace(baseEnv: Record<string, string> = {}): Promise<Workspace> {
  const directory = await mkdtemp(join(tmpdir(), 'firedrill-test-'));
  const temporary = join(directory, 'tmp');
  await mkdir(temporary);
  // The sandbox server may run as the unprivileged "postgres" user (tests run as root in CI): it must reach TMPDIR.
  await chmod(directory, 0o755);
  await chmod(temporary, 0o1777);

  // Every CLI process of this workspace: the containers they start carry their pid in a label.
  const pids = new Set<number>();
  const outputs: string[] = [];
  const leaks = new Set<string>();
  const docker = process.env.DOCKER_HOST ? { DOCKER_HOST: process.env.DOCKER_HOST } : {};
  const start = (args: string[], env: Record<string, string> = {}) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: directory,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LANG: 'C.UTF-8', TMPDIR: temporary, ...docker, ...baseEnv, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (child.pid !== undefined) pids.add(child.pid);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const stopWatching = watchCommandLines((found) => leaks.add(`${found} on a command line during \`firedrill ${args.join(' ')}\``));
    const result = new Promise<CliResult>((resolveResult) => {
      child.on('close', (code, signal) => {
        stopWatching();
        outputs.push(`firedrill ${args.join(' ')}\n${stdout}\n${stderr}`);
        resolveResult({ code, signal, stdout, stderr });
      });
    });
    return { child, result };
  };

  return {
    directory,
    temporary,
    writeFile: async (relativePath, text) => {
      const path = join(directory, relativePath);
      await mkdir(resolve(path, '..'), { recursive: true });
      await writeFile(path, text);
    },
    run: (args, env) => start(args, env).result,
    start,
    leftovers: async () => ({
      temporaryEntries: await readdir(temporary),
      processes: await processesMentioning(temporary),
      containers: (await containersOwnedBy(pids)).map((container) => `${container.id} (${container.role}, ${container.state})`),
    }),
    leaks: async () => {
      const found = new Set(leaks);
      for (const output of outputs) {
        for (const what of secretsIn(output)) found.add(`${what} in the output of \`${output.split('\n')[0]}\``);
      }
      for (const file of await listFiles(join(directory, 'var'))) {
        for (const what of secretsIn(`${file}\n${await readFile(file, 'latin1')}`)) found.add(`${what} in ${relative(directory, file)}`);
      }
      return [...found].sort();
    },
    remove: () => rm(directory, { recursive: true, force: true }),
  };
}

/**
 * Looks at every process's command line every 50 ms until stopped, reporting
 * each planted secret seen there (pg_dump, pg_restore, age, docker: secrets
 * travel by file or environment, never as an argument).
 */
function watchCommandLines(onFound: (what: string) => void): () => void {
  if (plantedSecretValues().length === 0) return () => undefined;
  let scanning = false;
  const timer = setInterval(() => {
    if (scanning) return;
    scanning = true;
    void commandLines()
      .then((lines) => secretsIn(lines.join('\n')).forEach(onFound))
      .finally(() => (scanning = false));
  }, 50);
  return () => clearInterval(timer);
}

async function commandLines(): Promise<string[]> {
  const lines: string[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      lines.push(`${entry}: ${(await readFile(`/proc/${entry}/cmdline`, 'utf8')).split('\0').join(' ').trim()}`);
    } catch {
      // the process ended while we looked
    }
  }
  return lines;
}

/** Command lines of running processes that mention `text` (e.g. a sandbox's data directory). */
export async function processesMentioning(text: string): Promise<string[]> {
  return (await commandLines()).filter((line) => line.includes(text));
}

/** All files below a directory, recursively, as paths relative to it. */
export async function listFiles(directory: string): Promise<string[]> {
  try {
    return (await readdir(directory, { recursive: true, withFileTypes: true })).filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name));
  } catch {
    return [];
  }
}

/** SHA-256 of every file below a directory but those under a `reports` directory: what a command that only reads backups must leave as it was. */
export async function backupDigests(directory: string): Promise<Record<string, string>> {
  const digests: Record<string, string> = {};
  for (const entry of await readdir(directory, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || entry.parentPath.split('/').includes('reports')) continue;
    const path = join(entry.parentPath, entry.name);
    digests[path] = createHash('sha256').update(await readFile(path)).digest('hex');
  }
  return digests;
}
