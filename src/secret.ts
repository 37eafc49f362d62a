import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { REDACTED, registerSecretValue } from './redact.ts';
import { ConfigError } from './errors.ts';

export type SecretReference = { env: string } | { file: string };

/**
 * A secret value: a password, a key, a token. It prints as `[redacted]`
 * however it is formatted (template string, JSON, util.inspect, pino);
 * `reveal()` is the only way to the value, and the few callers that use it
 * hand it straight to a child's environment or a driver.
 *
 * A secret from a config file starts as a reference (`{ env: NAME }` or
 * `{ file: PATH }`) and is resolved once, when the config is loaded, so a
 * missing variable is a config problem that names it rather than a failure
 * in the middle of a backup. Commands that load the config without secrets
 * (they only read backups) resolve one when they first use it.
 */
export class Secret {
  #value: string | undefined;
  /** Where it came from, for messages: `env ORDERS_DB_PASSWORD`, `file /run/secrets/pg`. */
  readonly origin: string;
  readonly reference: SecretReference | undefined;

  private constructor(origin: string, value: string | undefined, reference: SecretReference | undefined) {
    this.origin = origin;
    this.reference = reference;
    if (value !== undefined) this.#setValue(value);
  }

  static fromValue(value: string, origin: string): Secret {
    return new Secret(origin, value, undefined);
  }

  static fromReference(reference: SecretReference): Secret {
    const origin = 'env' in reference ? `env ${reference.env}` : `file ${reference.file}`;
    return new Secret(origin, undefined, reference);
  }

  get resolved(): boolean {
    return this.#value !== undefined;
  }

  /** Reads the referenced value. Returns a problem description instead of throwing. */
  resolve(env: NodeJS.ProcessEnv): string | undefined {
    if (this.#value !== undefined || !this.reference) return undefined;
    if ('env' in this.reference) {
      const value = env[this.reference.env];
      if (value === undefined) return `environment variable ${this.reference.env} is not set (it holds a secret; set it, or use { file: PATH })`;
      this.#setValue(value);
      return undefined;
    }
    try {
      // A trailing newline is an artefact of `echo secret > file`, never part of the secret.
      this.#setValue(readFileSync(this.reference.file, 'utf8').replace(/\r?\n$/, ''));
      return undefined;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
      return `cannot read secret file ${this.reference.file} (${code}); check the path and that firedrill may read it`;
    }
  }

  /**
   * The value. A secret that commands reading only metadata left unresolved
   * (`backups`, `restore`) is resolved now, when it turns out to be needed
   * (an S3 key to list backups, an age identity to decrypt one); a missing
   * variable or file is then a config error that names it.
   */
  reveal(): string {
    if (this.#value === undefined && this.reference) {
      const problem = this.resolve(process.env);
      if (problem) throw new ConfigError([{ file: this.origin, path: '', message: problem }]);
    }
    if (this.#value === undefined) throw new Error(`secret from ${this.origin} was used before the config was resolved`);
    return this.#value;
  }

  #setValue(value: string): void {
    this.#value = value;
    registerSecretValue(value);
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return REDACTED;
  }
}
