import type { Manifest, TargetRecord } from '../../interfaces.ts';
import type { Report } from '../../report/report.ts';
import { fingerprintSchema, type Fingerprint } from '../../engines/postgres/fingerprint.ts';

/** What the PostgreSQL defects read from a backup's manifest. */

export function postgresTargets(manifest: Manifest): TargetRecord[] {
  return manifest.targets.filter((target) => target.engine === 'postgres');
}

/** The fingerprint recorded at backup time, when there is one. */
export function fingerprintOf(target: TargetRecord): Fingerprint | undefined {
  const parsed = fingerprintSchema.safeParse(target.metadata['fingerprint']);
  return parsed.success ? parsed.data : undefined;
}

/** A defect inside the restored data is caught by a check that failed (or the RPO): a restore error is the damage's own doing, not the drill's. */
export function caughtByChecks(report: Report): boolean {
  return report.status === 'failed' && (report.checks.some((check) => check.status === 'failed') || report.objectives.rpo?.status === 'missed');
}
