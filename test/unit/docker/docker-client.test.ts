import { describe, expect, it } from 'vitest';
import { judgeLeftovers, type FiredrillContainer } from '../../../src/docker/docker-client.ts';
import { currentOwner } from '../../../src/pipeline/owner-marker.ts';

function container(overrides: Partial<FiredrillContainer>): FiredrillContainer {
  return {
    id: 'abc123abc123',
    name: 'x',
    image: 'postgres:15',
    state: 'running',
    role: 'sandbox',
    runId: 'run',
    drill: 'orders',
    createdAt: new Date('2026-11-26T10:00:00Z'),
    kept: false,
    owner: {},
    ports: {},
    ...overrides,
  };
}

describe('judgeLeftovers', () => {
  const now = new Date('2026-11-26T12:00:00Z');
  const options = { olderThanMs: 6 * 3_600_000, now };

  it('removes the containers of a firedrill process that is gone, and only those', async () => {
    const here = await currentOwner();
    const dead = container({ id: 'dead', owner: { ...here, pid: 2 ** 22 + 1 } });
    // However old: a drill may take longer than any age limit.
    const alive = container({ id: 'alive', owner: { ...here, pid: process.pid }, createdAt: new Date('2026-11-20T00:00:00Z') });
    const decisions = await judgeLeftovers([dead, alive], options);
    expect(decisions.map((decision) => [decision.container.id, decision.remove])).toEqual([
      ['dead', true],
      ['alive', false],
    ]);
  });

  it('waits for the age limit when the owner ran on another machine', async () => {
    const elsewhere = { pid: 1, hostname: 'other-host', machineId: 'other', bootId: 'other' };
    const young = container({ id: 'young', owner: elsewhere, createdAt: new Date('2026-11-26T11:00:00Z') });
    const old = container({ id: 'old', owner: elsewhere, createdAt: new Date('2026-11-26T05:00:00Z') });
    const decisions = await judgeLeftovers([young, old], options);
    expect(decisions.map((decision) => [decision.container.id, decision.remove])).toEqual([
      ['young', false],
      ['old', true],
    ]);
  });

  it('never removes a kept sandbox, however old and whoever made it', async () => {
    const here = await currentOwner();
    const kept = container({ kept: true, owner: { ...here, pid: 2 ** 22 + 1 }, createdAt: new Date('2020-01-01T00:00:00Z') });
    const [decision] = await judgeLeftovers([kept], options);
    expect(decision?.remove).toBe(false);
    expect(decision?.reason).toContain('firedrill sandbox rm');
  });
});
