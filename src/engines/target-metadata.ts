import type { z } from 'zod';
import type { TargetRecord } from '../repository/manifest.ts';
import { IntegrityError } from '../errors.ts';

/**
 * A target's engine-specific metadata from a manifest, validated by its
 * engine's schema. A manifest that does not hold what its engine wrote cannot
 * be trusted: an integrity error, never a guess.
 */
export function parseTargetMetadata<T extends z.ZodType>(schema: T, record: TargetRecord, kind: string): z.output<T> {
  const parsed = schema.safeParse(record.metadata);
  if (!parsed.success) {
    throw new IntegrityError(
      `the manifest's record of target "${record.name}" is not valid ${kind} metadata (${parsed.error.issues[0]?.message ?? 'unknown problem'}); the backup cannot be trusted`,
    );
  }
  return parsed.data;
}
