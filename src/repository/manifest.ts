import { createHash } from 'node:crypto';
import { z } from 'zod';
import { COMPRESSIONS } from '../pipeline/compression.ts';

/**
 * `manifest.json`: the record of one backup, written last. It names every
 * object with its size and SHA-256, and per target what the engine knows
 * (server and tool versions, snapshot time, fingerprint). Readers accept
 * unknown keys so that a newer firedrill's backups stay readable.
 */

export const MANIFEST_FORMAT_VERSION = 1;
export const MANIFEST_FILE = 'manifest.json';

const sha256Schema = z.string().regex(/^[0-9a-f]{64}$/, { error: 'expected a hex SHA-256' });

export const storedObjectSchema = z.looseObject({
  name: z.string().min(1),
  /** The target the object belongs to. */
  target: z.string().min(1),
  /** Size and SHA-256 of the stored bytes: after compression and encryption, so verifying needs no key. */
  sizeBytes: z.int().min(0),
  sha256: sha256Schema,
  /** What the engine wrote, before compression and encryption. */
  contentSizeBytes: z.int().min(0).optional(),
  /** Absent in backups made before firedrill compressed: those are stored as written. */
  compression: z.enum(COMPRESSIONS).optional(),
  encryption: z.looseObject({ format: z.literal('age'), recipients: z.array(z.string()) }).optional(),
});
export type StoredObject = z.output<typeof storedObjectSchema>;

export const targetRecordSchema = z.looseObject({
  name: z.string().min(1),
  engine: z.string().min(1),
  /** When the backed-up data was read, on the source's clock (the dump's snapshot). */
  snapshotAt: z.iso.datetime({ offset: true }),
  /** The same moment on firedrill's clock, for the backup's age without clock skew. */
  snapshotAtLocal: z.iso.datetime({ offset: true }),
  /** Engine-specific facts; each engine validates its own. */
  metadata: z.record(z.string(), z.unknown()),
});
export type TargetRecord = z.output<typeof targetRecordSchema>;

export const manifestSchema = z.looseObject({
  formatVersion: z.literal(MANIFEST_FORMAT_VERSION),
  backupId: z.string().min(1),
  drill: z.string().min(1),
  createdAt: z.iso.datetime({ offset: true }),
  completedAt: z.iso.datetime({ offset: true }),
  firedrillVersion: z.string(),
  targets: z.array(targetRecordSchema).min(1),
  objects: z.array(storedObjectSchema),
  timings: z.record(z.string(), z.number()).optional(),
});
export type Manifest = z.output<typeof manifestSchema>;

/** The exact bytes of manifest.json. Every repository writes these, so the digest below identifies a backup set. */
export function serializeManifest(manifest: Manifest): string {
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

/** SHA-256 of manifest.json: it records every object's own hash, so this one digest pins the whole backup. */
export function manifestSha256(manifest: Manifest): string {
  return createHash('sha256').update(serializeManifest(manifest)).digest('hex');
}

export function totalSizeBytes(manifest: Manifest): number {
  return manifest.objects.reduce((sum, object) => sum + object.sizeBytes, 0);
}
