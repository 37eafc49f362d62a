import type { Logger } from '../logger.ts';
import type { DrillConfig, RunnerConfig } from '../config/load.ts';
import type { Manifest, Repository, RestoreDamage } from '../interfaces.ts';
import type { Secret } from '../secret.ts';
import type { Report } from '../report/report.ts';

/**
 * A gameday defect: one way a backup or its recovery can be broken, applied
 * to a throwaway copy of the drill's latest backup (never the backup
 * itself), to see whether the drill goes red. One file per defect in
 * `defects/`, listed in `registry.ts`.
 */

/** What every defect may look at: the drill, the backup it damages a copy of, and where that backup lives. */
export interface DefectContext {
  drill: DrillConfig;
  runner: RunnerConfig;
  /** The drill's own repository, holding the original backup (read only). */
  repository: Repository;
  manifest: Manifest;
  logger: Logger;
  signal: AbortSignal;
}

/** A copy of the backup in a throwaway local repository: its objects as files, and its manifest. */
export interface BackupCopy {
  /** The backup's directory in the copy (`<root>/<drill>/<backupId>`). */
  directory: string;
  objectPath(objectName: string): string;
  readManifest(): Promise<Manifest>;
  /** Replaces the copy's manifest.json (the bytes a real repository would hold). */
  writeManifest(manifest: Manifest): Promise<void>;
}

/** How the damaged copy is drilled, besides its bytes. */
export interface VariantSettings {
  /** The age identity the restore decrypts with, instead of the repository's. */
  identity?: Secret | undefined;
  /** The drill's clock runs this much ahead: the backup looks this much older. */
  clockShiftMs?: number | undefined;
  /** How the restore is broken (an entry left out, an extension hidden). */
  damage?: RestoreDamage | undefined;
}

export interface Defect {
  readonly id: string;
  /** What is broken, for people: "one byte flipped in the stored dump". */
  readonly description: string;
  /** Undefined when the defect can be made for this drill; else why not ("the repository does not encrypt"). */
  notApplicable(context: DefectContext): string | undefined;
  /** Damages the copy (and says how to drill it). */
  apply(context: DefectContext, copy: BackupCopy): Promise<VariantSettings>;
  /** What to change so that the drill catches it, when it did not. */
  suggestion(context: DefectContext): string;
  /**
   * Whether the drill's outcome caught this defect. (Default: the drill
   * failed; an error says nothing about the backup.) A defect of the
   * environment is caught by the error that names it.
   */
  caught?(report: Report): boolean;
}
