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
    /** The container image of a Docker sandbox. */
    image?: string;
    jobs: number;
    /** Where each target was restored: a sandbox's description, or "a throwaway directory" for files. */
    targets?: { name: string; into: string }[];
  };
  error?: { kind: string; message: string; phase?: string };
  /** The retention policy applied after this run's backup: what it removed, and what it could not. */
  retention?: { policy: string; removed: string[]; problems: string[] };
  /** What is worth knowing but did not fail the run (an RTO regression under `action: warn`), each a sentence. */
  warnings?: string[];
  /** The RTO against the drill's own history (objectives.rtoRegression). */
  trend?: { rto: RtoTrend };
  /** What started the run: the command line, a schedule (and the fire it was for), or the HTTP API. */
  trigger?: RunTrigger;
  /** What each configured notifier did with this report. A failed notification never changes `status`. */
  notifications?: NotificationRecord[];
}

export type RunTrigger = { kind: 'cli' } | { kind: 'schedule'; scheduledFor: string } | { kind: 'api' };

export interface RtoTrend {
  /** Median RTO of the last passed runs before this one; null with too little history. */
  medianSeconds: number | null;
  /** How many passed runs the median is over (at most 10). */
  basedOnRuns: number;
  /** This run's RTO above the median, in percent (negative when faster); null when either is unknown. */
  increasePercent: number | null;
  /** The configured threshold. */
  maxIncreasePercent: number;
  /** What a regression does (objectives.rtoRegression.action): a warning, or a failed drill. */
  action: 'warn' | 'fail';
  /** `regressed`: above the threshold. `insufficient history`: fewer than 3 passed runs before this one. */
  status: 'ok' | 'regressed' | 'insufficient history' | 'not measured';
}

/** One notification: who (described without secrets), why, and how it went. */
export interface NotificationRecord {
  /** `email to oncall@example.com`, `webhook (slack) from env SLACK_WEBHOOK_URL`. */
  notifier: string;
  type: string;
  /** The event that triggered it: failure, recovery or success. */
  event: NotificationEvent;
  status: 'sent' | 'failed';
  attempts: number;
  /** For a failure: what went wrong and what to do. */
  message?: string;
}

/** failure: the run did not pass (failed or error). recovery: it passed after one that did not. success: it passed. */
export type NotificationEvent = 'failure' | 'recovery' | 'success';
