import { readFile } from 'node:fs/promises';
import { runToCompletion } from '../pipeline/child-process.ts';
import { SandboxError } from '../errors.ts';

/**
 * PostgreSQL refuses to run as root. When firedrill itself runs as root (in
 * a container, in CI), the sandbox server runs as an unprivileged user
 * instead: `firedrill` when that user exists, else `nobody`. Not `postgres`:
 * a restore runs code from the backed-up database as the sandbox's
 * superuser, and on a database host `postgres` owns the production data.
 */

export interface UnixUser {
  name: string;
  uid: number;
  gid: number;
}

export async function lookupUser(name: string): Promise<UnixUser | undefined> {
  let line: string | undefined;
  try {
    line = (await runToCompletion('getent', ['passwd', name])).split('\n')[0];
  } catch {
    // no getent (or no such user): fall back to /etc/passwd
    const passwd = await readFile('/etc/passwd', 'utf8').catch(() => '');
    line = passwd.split('\n').find((entry) => entry.startsWith(`${name}:`));
  }
  const fields = line?.split(':');
  if (!fields || fields.length < 4) return undefined;
  return { name, uid: Number(fields[2]), gid: Number(fields[3]) };
}

export const DEFAULT_SANDBOX_USERS = ['firedrill', 'nobody'];

/** The user to run the server as: undefined (ourselves) unless we are root. */
export async function sandboxUser(configured: string | undefined): Promise<UnixUser | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const candidates = configured ? [configured] : DEFAULT_SANDBOX_USERS;
  let user: UnixUser | undefined;
  for (const name of candidates) user ??= await lookupUser(name);
  const name = user?.name ?? candidates.join('" or "');
  if (!user) {
    throw new SandboxError(
      `firedrill runs as root and PostgreSQL refuses to; the user "${name}" to run the sandbox server as does not exist. ` +
        'Create a dedicated unprivileged user (useradd --system firedrill), set sandboxes.<name>.runAs, or run firedrill as a normal user',
    );
  }
  if (user.uid === 0) throw new SandboxError(`sandboxes.<name>.runAs names "${name}", which is root; PostgreSQL refuses to run as root`);
  return user;
}
