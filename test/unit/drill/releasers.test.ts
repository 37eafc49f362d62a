import { describe, expect, it } from 'vitest';
import { Releasers } from '../../../src/drill/releasers.ts';
import { createLogger } from '../../../src/logger.ts';

function setup() {
  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', destination: { write: (line) => lines.push(line) } });
  const ran: string[] = [];
  const releasers = new Releasers(logger);
  const track = (name: string) => releasers.add(name, () => void ran.push(name));
  return { releasers, ran, track, logs: () => lines.map((line) => JSON.parse(line) as { level: number; msg: string; resource: string; err?: string }) };
}

describe('Releasers', () => {
  it('runs every releaser newest first', async () => {
    const { releasers, ran, track } = setup();
    track('temp dir');
    track('sandbox');
    track('child process');

    await releasers.releaseAll();

    expect(ran).toEqual(['child process', 'sandbox', 'temp dir']);
    expect(releasers.size).toBe(0);
  });

  it('waits for an asynchronous releaser before running the next', async () => {
    const { releasers, ran } = setup();
    releasers.add('older', () => void ran.push('older'));
    releasers.add('slow', async () => {
      await new Promise((resolve) => setImmediate(resolve));
      ran.push('slow');
    });

    await releasers.releaseAll();

    expect(ran).toEqual(['slow', 'older']);
  });

  it('runs a releaser released early only once, and releaseAll does not repeat it', async () => {
    const { releasers, ran, track } = setup();
    track('first');
    const second = track('second');
    track('third');

    await second.release();
    await second.release();
    await releasers.releaseAll();

    expect(ran).toEqual(['second', 'third', 'first']);
  });

  it('runs a releaser once when release() and releaseAll() race', async () => {
    const { releasers, ran, track } = setup();
    const only = track('only');

    await Promise.all([only.release(), releasers.releaseAll(), only.release()]);

    expect(ran).toEqual(['only']);
  });

  it('never runs a releaser that was forgotten', async () => {
    const { releasers, ran, track } = setup();
    track('kept');
    track('handed over').forget();

    await releasers.releaseAll();

    expect(ran).toEqual(['kept']);
  });

  it('logs a failing releaser and still runs the others', async () => {
    const { releasers, ran, track, logs } = setup();
    track('temp dir');
    releasers.add('sandbox', () => {
      throw new Error('pg_ctl stop timed out');
    });
    releasers.add('upload', () => Promise.reject(new Error('network is down')));
    track('child process');

    await expect(releasers.releaseAll()).resolves.toBeUndefined();

    expect(ran).toEqual(['child process', 'temp dir']);
    const errors = logs().filter((line) => line.level === 50);
    expect(errors).toEqual([
      expect.objectContaining({ resource: 'upload', err: 'network is down', msg: 'could not release upload; remove it by hand' }),
      expect.objectContaining({ resource: 'sandbox', err: 'pg_ctl stop timed out', msg: 'could not release sandbox; remove it by hand' }),
    ]);
  });

  it('resolves release() of a failing releaser instead of throwing', async () => {
    const { releasers } = setup();
    const failing = releasers.add('broken', () => {
      throw new Error('boom');
    });

    await expect(failing.release()).resolves.toBeUndefined();
  });

  it('logs each successful release at debug level', async () => {
    const { releasers, track, logs } = setup();
    track('temp dir');

    await releasers.releaseAll();

    expect(logs()).toEqual([expect.objectContaining({ level: 20, resource: 'temp dir', msg: 'released' })]);
  });
});
