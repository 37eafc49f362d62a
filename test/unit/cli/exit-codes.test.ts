import { describe, expect, it } from 'vitest';
import { EXIT, exitCodeForReports } from '../../../src/cli/exit-codes.ts';
import type { Report, RunStatus } from '../../../src/report/report.ts';

/** Only the status decides the exit code; the rest of a report does not matter here. */
const reports = (...statuses: RunStatus[]): Report[] => statuses.map((status) => ({ status }) as Report);

describe('exitCodeForReports', () => {
  it('exits 0 when every drill passed', () => {
    expect(exitCodeForReports(reports('passed', 'passed'))).toBe(EXIT.PASSED);
    expect(EXIT.PASSED).toBe(0);
  });

  it('exits 0 when there were no drills to run', () => {
    expect(exitCodeForReports([])).toBe(0);
  });

  it('exits 1 when a drill failed and none errored', () => {
    expect(exitCodeForReports(reports('passed', 'failed', 'passed'))).toBe(EXIT.FAILED);
    expect(EXIT.FAILED).toBe(1);
  });

  it('exits 2 when a drill errored, even if another failed', () => {
    expect(exitCodeForReports(reports('failed', 'error', 'passed'))).toBe(EXIT.ERROR);
    expect(EXIT.ERROR).toBe(2);
  });

  it('exits 2 when a drill was aborted, since nothing is known about its backup', () => {
    expect(exitCodeForReports(reports('passed', 'aborted'))).toBe(2);
    expect(exitCodeForReports(reports('aborted', 'failed'))).toBe(2);
  });
});
