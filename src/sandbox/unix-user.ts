import { readFile } from 'node:fs/promises';
import { runToCompletion } from '../pipeline/child-process.ts';
import { SandboxError } from '../errors.ts';

/**
 * PostgreSQL refuses to run as root. When firedrill itself runs as root (in
 * a container, in CI), the sandbox server runs as an unprivileged user
 * instead, `postgres` by default, which every PostgreSQL package creates.
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

/** The user to run the server as: undefined (ourselves) unless we are root. */
export async function sandboxUser(configured: string | undefined): Promise<UnixUser | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const name = configured ?? 'postgres';
  const user = await lookupUser(name);
  if (!user) {
    throw new SandboxError(
      `firedrill runs as root and PostgreSQL refuses to; the user "${name}" to run the sandbox server as does not exist. ` +
        'Create it (the postgresql package does), set sandboxes.<name>.runAs to another unprivileged user, or run firedrill as a normal user',
    );
  }
  if (user.uid === 0) throw new SandboxError(`sandboxes.<name>.runAs names "${name}", which is root; PostgreSQL refuses to run as root`);
  return user;
}
