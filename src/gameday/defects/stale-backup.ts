import type { Defect } from '../defect.ts';

/** Backups that stopped being taken: the latest one is older than the recovery point objective allows. */
export const staleBackup: Defect = {
  id: 'stale-backup',
  description: "the backup treated as older than the drill's RPO objective",
  notApplicable: () => undefined,
  apply: ({ drill }) =>
    // Without an objective nothing is too old: a day past the snapshot shows that nothing notices.
    Promise.resolve({ clockShiftMs: (drill.objectives.rpo ?? 0) + 24 * 3600_000 }),
  suggestion: () => 'set objectives.rpo (e.g. 26h for a daily backup): without it a drill passes on a backup of any age',
};
