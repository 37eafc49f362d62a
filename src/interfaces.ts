/**
 * The public shapes of firedrill, in one place.
 *
 * Glossary
 * - drill: a recipe in `drills/<name>.yaml`: what to back up, where to store
 *   it, where to restore it, which checks prove the restore, and the recovery
 *   objectives.
 * - run: one execution of a drill, identified by a `runId`; it produces one
 *   report.
 * - target: one thing a drill backs up and restores: a PostgreSQL database
 *   or a set of files. A drill's `source` is its single target, named
 *   "source"; `targets` names several, backed up as one backup set.
 * - engine: the code that backs up and restores one kind of target (postgres,
 *   files).
 * - backup: one backup set of a drill, identified by a `backupId`: data
 *   objects plus a manifest, stored in a repository.
 * - object: one stored byte stream of a backup (the pg_dump archive).
 * - manifest: `manifest.json`, written last. A backup without a manifest is
 *   incomplete: never restored, never listed as valid, never counted.
 * - fingerprint: facts about the source recorded inside the dump's own
 *   snapshot (row counts, schema inventory), compared after the restore.
 * - repository: where backups live (a local directory, an S3 bucket), and
 *   how: compressed and encrypted the same way for every backup in it.
 * - sandbox: a throwaway restore target for a database (a Docker container,
 *   or an ephemeral local PostgreSQL cluster); files restore into a throwaway
 *   directory. Both are always removed, whatever happens.
 * - check: one verification against the restored target. Its outcome is
 *   passed or failed, never an exception.
 * - objective: RTO (time from the start of the restore until it is verified)
 *   and RPO (age of the restored data), each with a limit.
 * - releaser: a cleanup function registered the moment a resource exists,
 *   run newest-first, exactly once, on every path.
 */
import type { FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { Logger } from './logger.ts';
import type { Releasers } from './drill/releasers.ts';
import type { Manifest, StoredObject, TargetRecord } from './repository/manifest.ts';
import type { PostgresConnection } from './engines/postgres/postgres-connection.ts';
import type { Report } from './report/report.ts';
import type { StorageEncoding } from './pipeline/object-codec.ts';

export type { Manifest, StoredObject, TargetRecord, Report, StorageEncoding };

/** What every step of a run gets: who it is, where to log, when to stop, what to release. */
export interface RunContext {
  readonly runId: string;
  readonly drillName: string;
  readonly logger: Logger;
  /** Fires on SIGINT/SIGTERM or a caller's abort: stop work and let releasers clean up. */
  readonly signal: AbortSignal;
  readonly releasers: Releasers;
  /** Times a named phase (`backup.dump`, `restore.load`) and records it in the report. */
  phase<T>(name: string, work: (logger: Logger) => Promise<T>): Promise<T>;
}

// ---------------------------------------------------------------- engines

/** Where an engine writes a backup's objects: hashes them and hands them to the repository. */
export interface ObjectSink {
  /** True when the repository compresses what it stores: an engine then writes its output uncompressed. */
  readonly compresses: boolean;
  write(objectName: string, body: Readable): Promise<StoredObject>;
}

/** The objects of one target, fetched and verified, as local files the restore tools can read. */
export interface FetchedObjects {
  path(objectName: string): string;
}

export interface Engine<TTarget = unknown> {
  readonly type: string;
  /** Where a restored target of this kind lives: a sandbox server (databases), or a throwaway directory (files). */
  readonly restoresInto: RestorePlace['kind'];
  /** Takes the backup of one target; throws BackupError with what to fix. */
  backup(context: RunContext, targetName: string, target: TTarget, sink: ObjectSink): Promise<TargetRecord>;
  /** Facts about a backed-up target for reports: where it came from, what made it. */
  describeTarget(record: TargetRecord): TargetDescription;
  /** What a sandbox must offer to restore this target (e.g. a minimum server major); engines that restore into a sandbox. */
  sandboxRequirements?(record: TargetRecord): SandboxRequirements;
  /**
   * For a backup made elsewhere, which has no real manifest: what the fetched
   * dump says of itself (versions, database, roles), as a complete record.
   */
  inspectExisting?(
    record: TargetRecord,
    fetched: { path: string; format: 'custom' | 'plain' | 'directory' },
    options: { database: string | undefined; configuredIn: string },
  ): Promise<TargetRecord>;
  /** Restores into a started sandbox or an empty directory; throws RestoreError when the backup does not restore. */
  restore(context: RunContext, record: TargetRecord, objects: FetchedObjects, place: RestorePlace, options: RestoreOptions): Promise<RestoredTarget>;
}

/** Where one target is restored: a started sandbox server, or an empty throwaway directory. */
export type RestorePlace = { kind: 'sandbox'; sandbox: StartedSandbox } | { kind: 'directory'; directory: string };

export interface TargetDescription {
  source?: string;
  serverVersion?: string;
  tool?: string;
  toolVersion?: string;
  /** Files targets: what the archive holds. */
  files?: { count: number; bytes: number };
  /** What the backup could not take as it was (skipped sockets, files that changed while read): the count and the first few. */
  warnings?: { count: number; first: { path: string; problem: string }[] };
}

export interface RestoreOptions {
  jobs: number;
  /** `skip`: restore without ownership and grants (pg_restore --no-owner --no-privileges). */
  privileges: 'restore' | 'skip';
  /** SQL the drill runs in the new database before the restore (`restore.prepare`), and the file it is configured in. */
  prepare?: { sql: string; configuredIn: string } | undefined;
  /** How `firedrill gameday` breaks a restore on purpose, to see whether the drill notices. Never from config. */
  damage?: RestoreDamage | undefined;
}

export interface RestoreDamage {
  /** The target the damage is for; others restore as they are. */
  target: string;
  /** One archive entry not restored: a restore that silently lacks a table's data or an index. */
  leaveOut?: LeaveOut | undefined;
  /** Extensions the sandbox is taken not to have, as if its image or packages lacked them. */
  hideExtensions?: string[] | undefined;
}

/** An entry of a pg_dump archive's table of contents, by type and (optionally) schema and name, unquoted; without a name, the first of the type. */
export interface LeaveOut {
  entryType: 'TABLE DATA' | 'INDEX';
  schema?: string | undefined;
  name?: string | undefined;
}

export type RestoredTarget = RestoredDatabase | RestoredFiles;

export interface RestoredDatabase {
  kind: 'database';
  /** The database the checks run against. */
  connection: PostgresConnection;
  facts: Record<string, unknown>;
}

export interface RestoredFiles {
  kind: 'files';
  /** The throwaway directory the files were unpacked into. */
  directory: string;
  /** The backup's per-file index (JSON lines), fetched and verified. */
  indexPath: string;
  facts: Record<string, unknown>;
}

// ---------------------------------------------------------------- repositories

export interface BackupEntry {
  backupId: string;
  /**
   * `complete`: the manifest exists and is valid. `incomplete`: no manifest
   * (a backup still running, or debris of one that died). `invalid`: a
   * manifest that cannot be read. Only complete backups are restored or counted.
   */
  status: 'complete' | 'incomplete' | 'invalid';
  manifest?: Manifest;
  /** Why an invalid backup is invalid, or what is known of an incomplete one. */
  problem?: string;
  /** An incomplete backup whose writer is gone for good: debris, safe to remove. */
  abandoned?: boolean;
  /** When the manifest was written, or when the incomplete backup was last touched. */
  modifiedAt: Date;
}

/** Receives the objects of one backup; nothing is visible as a backup until `commit`. */
export interface BackupWriter {
  writeObject(objectName: string, body: Readable, signal: AbortSignal): Promise<void>;
  /**
   * Where objects are plain files (a local repository): a new, empty object
   * file, open for reading and writing, that child processes can write into
   * directly, so that Node handles none of its bytes. The caller fsyncs and
   * closes it; `abort` removes it like any object.
   */
  openObjectFile?(objectName: string): Promise<FileHandle>;
  /** Writes the manifest last and atomically; after this the backup exists. */
  commit(manifest: Manifest): Promise<void>;
  /** Removes everything written so far. Safe to call more than once, and after a failed commit. */
  abort(): Promise<void>;
}

/** What `removeAbandoned` (and `firedrill repair`) did. */
export interface RepairResult {
  /** Incomplete backups removed. */
  removed: string[];
  /** Multipart uploads aborted, as their keys. */
  abortedUploads: string[];
  /** What could not be cleaned, each a sentence. */
  problems: string[];
  /** What the store cannot do here (list multipart uploads), each a sentence: worth knowing, not a failure. */
  warnings: string[];
}

/** An object a repository holds that firedrill did not write: a backup made elsewhere. */
export interface ForeignObject {
  /** Relative to the repository's root or prefix. */
  key: string;
  sizeBytes: number;
  modifiedAt: Date;
}

/** A drill's outcome as the repository keeps it beside the backups: which backup passed, for retention. */
export interface StoredRunResult {
  runId: string;
  status: string;
  backupId?: string | undefined;
  finishedAt?: string | undefined;
}

export interface Repository {
  readonly name: string;
  readonly type: string;
  /** How objects are stored: compression and encryption, the same for every backup written here. */
  readonly encoding: StorageEncoding;
  /** `local repository "local" at /var/backups`: for messages. */
  describe(): string;
  /** Fails early, before a dump starts, when the repository cannot be written. */
  preflight(drill: string): Promise<void>;
  startBackup(drill: string, backupId: string): Promise<BackupWriter>;
  /** Removes incomplete backups whose writer is gone for good and aborts stale multipart uploads; says which, and what could not be removed. */
  removeAbandoned(drill: string): Promise<RepairResult>;
  /** Newest first. */
  listBackups(drill: string): Promise<BackupEntry[]>;
  readManifest(drill: string, backupId: string): Promise<Manifest>;
  readObject(drill: string, backupId: string, objectName: string): Promise<Readable>;
  /** The object as a plain local file, when the repository stores it as one (saves a copy before restoring). */
  localObjectPath(drill: string, backupId: string, objectName: string): string | undefined;
  /** Deletes a complete backup: the manifest first, so an interrupted delete leaves an incomplete backup, never a damaged "complete" one. */
  deleteBackup(drill: string, backupId: string): Promise<void>;
  /** Keeps a run's report beside the drill's backups (`<drill>/reports/<runId>.json`): the drill's history lives with its backups. */
  saveRunResult(drill: string, runId: string, json: string): Promise<void>;
  /** Every stored run result, summarized (for retention, which must see them all). */
  listRunResults(drill: string): Promise<StoredRunResult[]>;
  /** The run ids with a stored report, in any order (they sort by time as strings). */
  listRunIds(drill: string): Promise<string[]>;
  /** One stored report, as written. */
  readRunResult(drill: string, runId: string): Promise<string>;
  /** Objects under `prefix` (relative to the repository's root or prefix) whose keys `accept` takes, for drills of backups made elsewhere. */
  listForeignObjects(prefix: string, accept?: (key: string) => boolean): Promise<ForeignObject[]>;
  readForeignObject(key: string): Promise<Readable>;
}

// ---------------------------------------------------------------- sandboxes

export interface SandboxRequirements {
  /** The sandbox server (and its pg_restore) must be at least this major version. */
  minimumServerMajor: number;
}

export interface SandboxStartOptions {
  /** An image for container sandboxes (a drill's `restore.image`), overriding the sandbox's own. */
  image?: string | undefined;
}

export interface Sandbox {
  readonly name: string;
  readonly type: string;
  /**
   * Starts a sandbox and registers its removal with `context.releasers` as
   * soon as it has anything to remove, so a run that fails or is interrupted
   * mid-start leaves nothing behind.
   */
  start(context: RunContext, requirements: SandboxRequirements, options?: SandboxStartOptions): Promise<StartedSandbox>;
}

/** A running throwaway PostgreSQL server. Only a started sandbox has connections. */
export interface StartedSandbox {
  readonly id: string;
  /** `local cluster PostgreSQL 15.18 in /tmp/firedrill-sandbox-x1y2`: for reports and messages. */
  readonly description: string;
  readonly serverVersion: string;
  /** The container image, for sandboxes that run one. */
  readonly image?: string;
  /** A superuser connection to `database` inside the sandbox. */
  connection(database: string): PostgresConnection;
  /** A libpq URL a person can connect with, password included: printed only on request (`firedrill restore --keep`). */
  connectionUrl(database: string): string;
  /** Makes a local file readable by the sandbox's own tools and returns the path they see: in place, or copied into a container. */
  stageFile(path: string, signal: AbortSignal): Promise<string>;
  /**
   * Runs one of the sandbox's own client tools, so tool and server versions
   * match, connected as the superuser to `database`. Rejects with a
   * ChildProcessError (exit status, stderr tail) when it fails.
   */
  runTool(tool: 'pg_restore' | 'psql', args: string[], options: { database: string; signal: AbortSignal; releasers: Releasers }): Promise<void>;
  /**
   * Leaves the sandbox running when the run ends (`firedrill restore --keep`),
   * marked so that cleanup of leftovers never removes it. Absent where a
   * sandbox cannot outlive firedrill (a local cluster is its child process).
   */
  keep?(): Promise<void>;
  /** Stops the server and deletes everything it wrote. Idempotent. */
  stop(): Promise<void>;
}

// ---------------------------------------------------------------- checks

export type CheckStatus = 'passed' | 'failed';

export interface CheckOutcome {
  status: CheckStatus;
  message: string;
  /** Metadata only (counts, names, durations): never row data. */
  details?: Record<string, unknown>;
  /** A freshness check reports the newest data timestamp it found. */
  newestDataAt?: Date;
}

/** Read-only access to the restored database, bounded by the check's timeout. */
export interface CheckDatabase {
  query(sql: string): Promise<{ rows: Record<string, unknown>[]; fields: { name: string }[] }>;
  /** Opens more read-only sessions for checks that work in parallel; all are closed with the check. */
  parallel<T>(sessions: number, work: (queries: CheckDatabase[]) => Promise<T>): Promise<T>;
}

export interface CheckContext {
  readonly logger: Logger;
  readonly signal: AbortSignal;
  /** The restored target's record from the manifest (its fingerprint, snapshot time). */
  readonly target: TargetRecord;
  readonly restored: RestoredTarget;
  /** Read-only access to the restored database, for checks of a database target (throws for others). */
  readonly database: CheckDatabase;
  /** Another restored target of the same drill, by name: for checks that cross targets (references). */
  otherTarget(name: string): { record: TargetRecord; restored: RestoredTarget };
}

/** The kinds of targets, by engine type, that checks apply to. */
export type TargetType = 'postgres' | 'files';

export interface Check {
  readonly name: string;
  readonly type: string;
  readonly timeoutMs: number;
  /** The drill's target this check runs against (resolved when the drill is loaded). */
  readonly target: string;
  run(context: CheckContext): Promise<CheckOutcome>;
}

// ---------------------------------------------------------------- reporting

/** Publishes a finished run's report somewhere. A failing reporter never changes the run's status. */
export interface Reporter {
  readonly name: string;
  publish(report: Report): Promise<void>;
}

// ---------------------------------------------------------------- the scheduler service

/** One drill as the scheduler service sees it, for the dashboard, the API and /metrics. */
export interface ScheduledDrill {
  drill: string;
  /** The cron expression; undefined for drills run only on demand. */
  schedule: string | undefined;
  /** The timezone the schedule is read in. */
  timezone: string;
  nextRunAt: Date | undefined;
  /** idle, queued behind the concurrency limit, or running here. */
  activity: 'idle' | 'queued' | 'running';
  /** The run id of the queued or running run. */
  runId?: string | undefined;
}

/** What an on-demand run request (`POST /api/drills/:name/run`) came to. */
export type RunRequestOutcome =
  | { outcome: 'accepted'; runId: string; queued: boolean }
  | { outcome: 'unknown drill' }
  | { outcome: 'already running'; runId: string | undefined; where: 'here' | 'another replica' }
  | { outcome: 'shutting down' }
  /** The coordination database did not answer: whether the drill runs elsewhere is unknown. */
  | { outcome: 'unavailable'; reason: string };

/** The running scheduler, as the HTTP server reads and drives it. */
export interface SchedulerView {
  /** Config loaded and every task scheduled: what /readyz answers. */
  readonly ready: boolean;
  drills(): ScheduledDrill[];
  queueLength(): number;
  runningCount(): number;
  /** Queues an on-demand run of a drill, unless it is unknown, queued or running (here or, with coordination, elsewhere). */
  requestRun(drill: string): Promise<RunRequestOutcome>;
}
