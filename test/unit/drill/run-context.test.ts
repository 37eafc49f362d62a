import { describe, expect, it } from 'vitest';
import { DrillRunContext } from '../../../src/drill/run-context.ts';
import { AbortedError } from '../../../src/errors.ts';
import { silentLogger } from '../../../src/logger.ts';

function context(signal: AbortSignal = new AbortController().signal): DrillRunContext {
  return new DrillRunContext({ runId: 'run', drillName: 'orders', logger: silentLogger, signal, clock: () => new Date('2026-11-26T03:00:00Z') });
}

describe('DrillRunContext.phase', () => {
  it('records each phase with its duration and status', async () => {
    const run = context();
    await run.phase('backup', async () => {
      await run.phase('backup.dump', async () => undefined);
    });
    await run.phase('restore', async () => Promise.reject(new Error('no'))).catch(() => undefined);
    expect(run.phases.map((phase) => [phase.name, phase.status])).toEqual([
      ['backup', 'ok'],
      ['backup.dump', 'ok'],
      ['restore', 'failed'],
    ]);
    expect(run.phases[0]?.startedAt).toBe('2026-11-26T03:00:00.000Z');
  });

  it('names the innermost phase an error came out of', async () => {
    const run = context();
    const error = new Error('pg_dump failed');
    await run.phase('backup', () => run.phase('backup.dump', () => Promise.reject(error))).catch(() => undefined);
    expect(run.phaseOf(error)).toBe('backup.dump');
    expect(run.phaseOf(new Error('another'))).toBeUndefined();
  });

  it('does not start a phase once the run is aborted', async () => {
    const controller = new AbortController();
    const run = context(controller.signal);
    controller.abort('stopped by SIGTERM');
    let ran = false;
    await expect(run.phase('restore.prepare', async () => (ran = true))).rejects.toBeInstanceOf(AbortedError);
    expect(ran).toBe(false);
  });

  it('ends the run after a phase that finished although the abort came while it ran', async () => {
    const controller = new AbortController();
    const run = context(controller.signal);
    await expect(
      run.phase('restore.load', async () => {
        controller.abort();
        return 'done anyway';
      }),
    ).rejects.toBeInstanceOf(AbortedError);
  });
});
