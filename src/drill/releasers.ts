import type { Logger } from '../logger.ts';
import { errorMessage } from '../errors.ts';

/**
 * Cleanup functions for everything a run starts: child processes, sandboxes,
 * temp dirs, partial backups. A resource registers its releaser the moment it
 * exists; `releaseAll` runs them newest-first, each exactly once, whether the
 * run passed, failed, threw or was interrupted by a signal. A releaser that
 * fails is logged and the others still run: one stuck cleanup must not leave
 * the rest behind.
 */

export interface Registration {
  /** Runs this releaser now (once) and unregisters it. */
  release(): Promise<void>;
  /** Unregisters without running: the resource was handed over or is gone. */
  forget(): void;
}

interface Entry {
  name: string;
  release: () => Promise<void> | void;
  done: Promise<void> | undefined;
}

export class Releasers {
  readonly #entries: Entry[] = [];
  readonly #logger: Logger;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  add(name: string, release: () => Promise<void> | void): Registration {
    const entry: Entry = { name, release, done: undefined };
    this.#entries.push(entry);
    return {
      release: () => this.#run(entry),
      forget: () => this.#remove(entry),
    };
  }

  get size(): number {
    return this.#entries.length;
  }

  /** Runs every registered releaser, newest first. Never throws. */
  async releaseAll(): Promise<void> {
    while (this.#entries.length > 0) {
      const entry = this.#entries.at(-1) as Entry;
      await this.#run(entry);
    }
  }

  #run(entry: Entry): Promise<void> {
    entry.done ??= (async () => {
      this.#remove(entry);
      try {
        await entry.release();
        this.#logger.debug({ resource: entry.name }, 'released');
      } catch (error) {
        this.#logger.error({ resource: entry.name, err: errorMessage(error) }, `could not release ${entry.name}; remove it by hand`);
      }
    })();
    return entry.done;
  }

  #remove(entry: Entry): void {
    const index = this.#entries.indexOf(entry);
    if (index >= 0) this.#entries.splice(index, 1);
  }
}
