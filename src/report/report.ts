import type { TargetDescription } from '../interfaces.ts';

/**
 * The report of one run: what was done, how long each phase took, what every
 * check found, RTO and RPO against the objectives, and the backup's facts.
 * Metadata only: counts, durations, sizes, hashes, names and messages, never
 * row data and never secrets. Consumers rely on this shape; `schemaVersion`
 * changes when a field changes meaning or goes away.
 */

export const REPORT_SCHEMA_VERSION = 1;

/**
 * passed: restored and every check and objective held. failed: the backup did
 * not restore, a check failed, or an objective was missed. error: the drill
 * could not run (config, source, repository, sandbox), so nothing is known
 * about the backup. aborted: stopped by a signal.
 */
export type RunStatus = 'passed' | 'failed' | 'error' | 'aborted';

export interface PhaseRecord {
  /** Dotted: `backup`, `backup.dump`, `restore.load`, `check:orders exist`. */
  name: string;
  startedAt: string;
  durationMs: number;
  status: 'ok' | 'failed';
}

export interface CheckRecord {
  name: string;
  type: string;
  /** `skipped`: not run, the drill stopped before it. `interrupted`: the run was aborted while it ran. */
  status: 'passed' | 'failed' | 'skipped' | 'interrupted';
  message: string;
  durationMs: number;
  details?: Record<string, unknown>;
}

export interface ObjectiveRecord {
  /** As written in the drill: `10m`. */
  limit: string;
  limitSeconds: number;
  measuredSeconds: number | null;
  status: 'met' | 'missed' | 'not measured';
}

export interface BackupFacts {
  id: string;
  repository: string;
  /** True when the run drilled an existing backup (`--from-backup`, or one made elsewhere). */
  reused: boolean;
  /** A backup firedrill did not make (`backup.existing`): `id` is its key, `sha256` the object's own, `snapshotAt` its modification time. */
  madeElsewhere?: boolean;
  createdAt: string;
  snapshotAt: string;
  sizeBytes: number;
  /** SHA-256 of the manifest, which records every object's own SHA-256: one digest for the whole backup set. */
  sha256: string;
  /** `sizeBytes` as stored; `contentSizeBytes` before compression and encryption (absent for backups made elsewhere). */
  objects: { name: string; target: string; sizeBytes: number; sha256: string; contentSizeBytes?: number; compression?: string; encrypted?: boolean }[];
  targets: ({ name: string; engine: string } & TargetDescription)[];
}

export interface Report {
  schemaVersion: typeof REPORT_SCHEMA_VERSION;
  firedrillVersion: string;
  drill: string;
  runId: string;
  status: RunStatus;
  /** One line for people: what happened and why. */
  summary: string;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  host: string;
  phases: PhaseRecord[];
  checks: CheckRecord[];
  measured: {
    /** From the start of the restore (fetch, sandbox, restore, checks) until verified; null when it never got verified. */
    rtoSeconds: number | null;
    /** Age of the restored data: backup age at the start of the restore plus the data's age at the snapshot. */
    rpoSeconds: number | null;
    backupAgeSeconds: number | null;
    /** From freshness checks; null without one. */
    dataAgeAtSnapshotSeconds: number | null;
  };
  objectives: { rto?: ObjectiveRecord; rpo?: ObjectiveRecord };
  backup?: BackupFacts;
  restore?: {
    sandbox: string;
    /** The first database target's sandbox. */
    description?: string;
    serverVersion?: string;
    jobs: number;
    /** Where each target was restored: a sandbox's description, or "a throwaway directory" for files. */
    targets?: { name: string; into: string }[];
  };
  error?: { kind: string; message: string; phase?: string };
  /** The retention policy applied after this run's backup: what it removed, and what it could not. */
  retention?: { policy: string; removed: string[]; problems: string[] };
}
