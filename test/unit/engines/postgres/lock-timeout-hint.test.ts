import { describe, expect, it } from 'vitest';
import { withLockTimeoutHint } from '../../../../src/engines/postgres/postgres-backup.ts';
import { BackupError, RepositoryError } from '../../../../src/errors.ts';

/** A lock wait that ran out is said with what it means and what to do, whoever waited: firedrill's session or pg_dump. */

const target = { backup: { lockWaitTimeoutMs: 120_000 } as never, configuredIn: 'drills/orders.yaml' };

describe('withLockTimeoutHint', () => {
  it("explains firedrill's own session running into lock_timeout (55P03)", () => {
    const cause = Object.assign(new Error('canceling statement due to lock timeout'), { code: '55P03' });
    const hinted = withLockTimeoutHint(new BackupError('reading the source postgres://x failed: canceling statement due to lock timeout', { cause }), target);
    expect(hinted).toBeInstanceOf(BackupError);
    expect(hinted.message).toContain('A table stayed locked longer than backup.lockWaitTimeout (2m) allows');
    expect(hinted.message).toContain('or raise backup.lockWaitTimeout in drills/orders.yaml');
    expect(hinted.cause).toBeInstanceOf(BackupError);
  });

  it("explains pg_dump's own lock wait, which it bounds with statement_timeout on LOCK TABLE", () => {
    const message =
      'pg_dump failed for postgres://x: pg_dump exited with status 1: pg_dump: error: query failed: ERROR:  canceling statement due to statement timeout\n' +
      'pg_dump: detail: Query was: LOCK TABLE public.orders IN ACCESS SHARE MODE';
    expect(withLockTimeoutHint(new BackupError(message), target).message).toContain('backup.lockWaitTimeout (2m)');
  });

  it('leaves other errors, and errors of other kinds, as they are', () => {
    const timeout = new BackupError('pg_dump failed: canceling statement due to statement timeout (a query, no lock)');
    expect(withLockTimeoutHint(timeout, target)).toBe(timeout);
    const unrelated = new BackupError('cannot connect to the source database: ECONNREFUSED');
    expect(withLockTimeoutHint(unrelated, target)).toBe(unrelated);
    const repository = new RepositoryError('canceling statement due to lock timeout');
    expect(withLockTimeoutHint(repository, target)).toBe(repository);
  });
});
