import { chmod, chown, mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../logger.ts';
import { Releasers } from '../drill/releasers.ts';
import { SandboxError, errorMessage } from '../errors.ts';
import { throwIfAborted } from '../abort.ts';
import { spawnChild, type ChildProcessHandle } from '../pipeline/child-process.ts';
import type { PostgresConnection } from '../engines/postgres/postgres-connection.ts';
import type { Secret } from '../secret.ts';
import type { UnixUser } from './unix-user.ts';
import { keepMarker } from '../pipeline/owner-marker.ts';
import { waitUntilAnswering } from './server-readiness.ts';

/**
 * An ephemeral PostgreSQL cluster: initdb into a fresh temp dir, start the
 * server as a child of firedrill, and on stop shut it down and delete the
 * directory. Used as the `local` sandbox (Unix socket only, no TCP) and by
 * the demo and tests as a throwaway source (TCP on 127.0.0.1 with a password).
 *
 * The postmaster is spawned directly, not through pg_ctl, so that no option
 * ever passes through a shell and firedrill holds its PID. If firedrill dies
 * without cleaning up, the directory's marker names a dead owner and the next
 * sandbox start reaps it; PostgreSQL itself also shuts down within a minute
 * once its data directory is gone.
 */

export const SANDBOX_DIRECTORY_PREFIX = 'firedrill-sandbox-';
export const MARKER_FILE = 'firedrill-sandbox.json';

export interface LocalClusterOptions {
  binDir: string;
  /** Where the temp dir goes. (Default: the OS temp dir) */
  parentDirectory?: string;
  /** PostgreSQL refuses to run as root; when firedrill is root it runs the server as this user. */
  runAs?: UnixUser | undefined;
  /** `socket`: no TCP at all. `tcp`: 127.0.0.1 on a free port. */
  listen: 'socket' | 'tcp';
  /** Required for TCP, where password authentication is enforced. */
  superuserPassword?: Secret;
  settings?: Record<string, string>;
  startTimeoutMs?: number;
  /** The setting behind startTimeoutMs (`sandboxes.local.startTimeout`), named when the server is not ready in time. */
  startTimeoutSetting?: string;
  /** Recorded in the marker file, so leftovers can be traced to a run. */
  owner: { runId: string; drill: string };
  logger: Logger;
  signal?: AbortSignal;
  releasers?: Releasers;
}

export interface StartedLocalCluster {
  readonly directory: string;
  readonly serverVersion: string;
  readonly host: string;
  readonly port: number;
  connection(database: string): PostgresConnection;
  stop(): Promise<void>;
}

const SUPERUSER = 'postgres';
const SOCKET_PORT = 5432;

/**
 * A throwaway server needs no durability: these make restores and index
 * builds markedly faster. A fresh cluster has no old WAL segments to
 * recycle, so without `wal_init_zero = off` it would write every new 16 MB
 * segment full of zeros first (about as many bytes as the WAL itself);
 * `wal_level = minimal` (no replication, so no WAL senders) lets index
 * builds skip WAL altogether.
 */
export const THROWAWAY_SETTINGS: Record<string, string> = {
  fsync: 'off',
  synchronous_commit: 'off',
  full_page_writes: 'off',
  autovacuum: 'off',
  max_wal_size: '2GB',
  checkpoint_timeout: '30min',
  maintenance_work_mem: '256MB',
  wal_init_zero: 'off',
  wal_level: 'minimal',
  max_wal_senders: '0',
};

export async function startLocalCluster(options: LocalClusterOptions): Promise<StartedLocalCluster> {
  const { logger } = options;
  const directory = await mkdtemp(join(options.parentDirectory ?? tmpdir(), SANDBOX_DIRECTORY_PREFIX));
  // The cluster's own resources (directory, initdb, server) are released newest-first by one stop(),
  // which is itself registered with the caller's releasers.
  const own = new Releasers(logger);
  own.add(`sandbox directory ${directory}`, () => rm(directory, { recursive: true, force: true }));
  const registration = options.releasers?.add(`local cluster in ${directory}`, () => own.releaseAll());
  const stop = () => (registration ? registration.release() : own.releaseAll());
  try {
    own.add('sandbox marker heartbeat', await keepMarker(join(directory, MARKER_FILE), options.owner));
    const dataDirectory = join(directory, 'data');
    const socketDirectory = join(directory, 'socket');
    await mkdir(socketDirectory, { mode: 0o700 });
    if (options.runAs) {
      await chown(directory, options.runAs.uid, options.runAs.gid);
      await chown(socketDirectory, options.runAs.uid, options.runAs.gid);
    }
    await chmod(directory, 0o700);

    await initdb(options, directory, dataDirectory, own);
    throwIfAborted(options.signal);

    // A free TCP port can be taken by someone else before PostgreSQL binds it: try a few.
    const attempts = options.listen === 'tcp' ? 3 : 1;
    let port = SOCKET_PORT;
    let serverVersion = '';
    const logPath = join(directory, 'postgres.log');
    const host = options.listen === 'tcp' ? '127.0.0.1' : socketDirectory;
    const connection = (database: string): PostgresConnection => ({
      host,
      port,
      database,
      user: SUPERUSER,
      password: options.listen === 'tcp' ? options.superuserPassword : undefined,
      connectTimeoutMs: 10_000,
    });
    for (let attempt = 1; ; attempt++) {
      if (options.listen === 'tcp') port = await freePort();
      const server = await spawnServer(options, dataDirectory, socketDirectory, port, logPath);
      const stopServer = own.add(`PostgreSQL server (pid ${server.process.pid})`, () => shutdown(server));
      try {
        let exited = false;
        server.succeeded.then(
          () => (exited = true),
          () => (exited = true),
        );
        ({ version: serverVersion } = await waitUntilAnswering(connection('postgres'), {
          timeoutMs: options.startTimeoutMs ?? 60_000,
          signal: options.signal,
          whyGone: () => Promise.resolve(exited ? 'PostgreSQL exited while starting' : undefined),
          lastWords: async () => `its log (${logPath}) ends with:\n${await logTail(logPath)}`,
          timeoutSetting: options.startTimeoutSetting,
        }));
        break;
      } catch (error) {
        const portTaken = /could not bind|Address already in use/i.test(await logTail(logPath));
        if (attempt >= attempts || !portTaken) throw error;
        await stopServer.release();
      }
    }
    logger.debug({ directory, port, serverVersion }, 'local cluster ready');
    return { directory, serverVersion, host, port, connection, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function spawnServer(
  options: LocalClusterOptions,
  dataDirectory: string,
  socketDirectory: string,
  port: number,
  logPath: string,
): Promise<ChildProcessHandle> {
  const settings = { ...THROWAWAY_SETTINGS, ...options.settings };
  const listenAddresses = options.listen === 'tcp' ? '127.0.0.1' : '';
  const args = ['-D', dataDirectory, '-k', socketDirectory, '-p', String(port), '-c', `listen_addresses=${listenAddresses}`];
  for (const [name, value] of Object.entries(settings)) args.push('-c', `${name}=${value}`);
  // The server's output goes to a file: a pipe nobody drains would eventually block it.
  const logFile = await open(logPath, 'a', 0o600);
  try {
    if (options.runAs) await logFile.chown(options.runAs.uid, options.runAs.gid);
    return spawnChild(join(options.binDir, 'postgres'), args, { ...runAsOptions(options.runAs), stdout: logFile.fd, stderr: logFile.fd });
  } finally {
    await logFile.close();
  }
}

async function initdb(options: LocalClusterOptions, directory: string, dataDirectory: string, releasers: Releasers): Promise<void> {
  const args = ['-D', dataDirectory, '-U', SUPERUSER, '--encoding=UTF8', '--locale=C', '--no-sync', '--auth-local=trust'];
  let passwordFile: string | undefined;
  if (options.listen === 'tcp') {
    if (!options.superuserPassword) throw new SandboxError('a local cluster that listens on TCP needs a superuser password');
    passwordFile = join(directory, 'superuser-password');
    await writeFile(passwordFile, options.superuserPassword.reveal(), { mode: 0o600 });
    if (options.runAs) await chown(passwordFile, options.runAs.uid, options.runAs.gid);
    args.push('--auth-host=scram-sha-256', `--pwfile=${passwordFile}`);
  } else {
    args.push('--auth-host=reject');
  }
  try {
    await spawnChild(join(options.binDir, 'initdb'), args, { ...runAsOptions(options.runAs), stdout: 'ignore', signal: options.signal, releasers }).succeeded;
  } catch (error) {
    throw new SandboxError(`initdb failed in ${dataDirectory}: ${errorMessage(error)}`, { cause: error });
  } finally {
    if (passwordFile) await rm(passwordFile, { force: true });
  }
}

/** Fast shutdown (SIGINT), then immediate (SIGQUIT), then SIGKILL: a throwaway server is never waited on for long. */
async function shutdown(server: ChildProcessHandle): Promise<void> {
  const child = server.process;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = server.succeeded.catch(() => undefined);
  for (const [signal, waitMs] of [['SIGINT', 10_000], ['SIGQUIT', 5_000], ['SIGKILL', 5_000]] as const) {
    child.kill(signal);
    const done = await Promise.race([exited.then(() => true), sleep(waitMs, false, { ref: false })]);
    if (done) return;
  }
}

async function logTail(path: string): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).trim().split('\n').slice(-10).join('\n');
  } catch {
    return '(no log)';
  }
}

function runAsOptions(user: UnixUser | undefined): { uid?: number; gid?: number } {
  return user ? { uid: user.uid, gid: user.gid } : {};
}

/** A port nobody listens on right now. The small race until PostgreSQL binds it is retried by the caller. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}
