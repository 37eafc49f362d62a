import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.ts';
import { Secret } from '../../src/secret.ts';

function capture() {
  const lines: string[] = [];
  const logger = createLogger({ level: 'trace', destination: { write: (line) => lines.push(line) } });
  return { logger, lines };
}

describe('createLogger', () => {
  // A planted secret: the test fails if it shows up anywhere in the output.
  const canary = Secret.fromValue(`canary-${randomUUID()}`, 'test');
  const value = canary.reveal();

  it('writes JSON lines with the level, name and message', () => {
    const { logger, lines } = capture();

    logger.info({ drill: 'orders' }, 'backup started');

    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 30, name: 'firedrill', drill: 'orders', msg: 'backup started' });
  });

  it('never writes a secret that ended up in a message', () => {
    const { logger, lines } = capture();

    logger.error(`pg_dump failed: password authentication failed for "${value}"`);

    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain(value);
    expect(lines[0]).toContain('[redacted]');
  });

  it('never writes a secret from a nested field, whatever its name', () => {
    const { logger, lines } = capture();

    logger.warn({ child: { env: { SOME_VARIABLE: value }, args: ['--flag', value] } }, 'spawned');

    expect(lines.join('')).not.toContain(value);
  });

  it('never writes a secret inside a URL', () => {
    const { logger, lines } = capture();

    logger.info({ url: `postgres://backup:${value}@db.internal:5432/orders` }, `connecting to postgres://backup:${value}@db.internal/orders`);

    expect(lines.join('')).not.toContain(value);
    expect(JSON.parse(lines[0]!).url).toBe('postgres://backup:[redacted]@db.internal:5432/orders');
  });

  it('never writes a secret from an error message', () => {
    const { logger, lines } = capture();

    logger.error({ err: new Error(`could not connect with ${value}`) }, 'failed');

    expect(lines.join('')).not.toContain(value);
  });

  it('prints the Secret object itself as [redacted]', () => {
    const { logger, lines } = capture();

    logger.debug({ connection: { user: 'backup', password: canary }, secret: canary }, 'connection');

    expect(lines.join('')).not.toContain(value);
    expect(JSON.parse(lines[0]!)).toMatchObject({ connection: { user: 'backup', password: '[redacted]' }, secret: '[redacted]' });
  });

  it('censors password, secret and token fields, even when their values were never registered', () => {
    const { logger, lines } = capture();

    logger.info({ password: 'unregistered-1', token: 'unregistered-2', connection: { password: 'unregistered-3' }, env: { PGPASSWORD: 'unregistered-4' } }, 'x');

    expect(JSON.parse(lines[0]!)).toMatchObject({
      password: '[redacted]',
      token: '[redacted]',
      connection: { password: '[redacted]' },
      env: { PGPASSWORD: '[redacted]' },
    });
    expect(lines[0]).not.toMatch(/unregistered-/);
  });

  it('writes nothing below its level', () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'warn', destination: { write: (line) => lines.push(line) } });

    logger.info('not shown');
    logger.warn('shown');

    expect(lines.map((line) => (JSON.parse(line) as { msg: string }).msg)).toEqual(['shown']);
  });
});
