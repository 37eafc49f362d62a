import type { Report } from '../report/report.ts';

/** The exit code contract scripts and schedulers rely on. */
export const EXIT = {
  /** Every drill passed. */
  PASSED: 0,
  /** A drill failed: a check, an objective, or the backup itself (integrity, restore). */
  FAILED: 1,
  /** Config, usage or infrastructure error, or aborted: nothing is known about the backup. */
  ERROR: 2,
} as const;

/** The worst outcome wins: an error (2) over a failure (1) over passing (0). */
export function exitCodeForReports(reports: Report[]): number {
  if (reports.some((report) => report.status === 'error' || report.status === 'aborted')) return EXIT.ERROR;
  if (reports.some((report) => report.status === 'failed')) return EXIT.FAILED;
  return EXIT.PASSED;
}
