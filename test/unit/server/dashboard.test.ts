import { describe, expect, it } from 'vitest';
import { formatInZone, relative, renderDashboard, type DashboardData } from '../../../src/server/dashboard.ts';
import type { DrillOverview } from '../../../src/server/server-context.ts';
import type { DrillConfig } from '../../../src/config/load.ts';
import { REPORT_SCHEMA_VERSION, type Report, type RunStatus } from '../../../src/report/report.ts';

/** The dashboard as HTML: every drill a row, every value escaped, and not a single script. */

const NOW = new Date('2026-11-26T15:00:00.000Z');
const HOSTILE = '<script>alert("x")</script> & \'quoted\'';

function drill(name: string, overrides: Partial<DrillConfig> = {}): DrillConfig {
  return { name, file: `drills/${name}.yaml`, objectives: { rto: 600_000, rpo: 93_600_000, rtoRegression: { maxIncreasePercent: 50, action: 'warn' } }, ...overrides } as unknown as DrillConfig;
}

function report(drillName: string, index: number, status: RunStatus, overrides: Partial<Report> = {}): Report {
  const started = new Date(Date.parse('2026-11-26T12:00:00.000Z') - index * 86_400_000);
  const stamp = started.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    firedrillVersion: '0.1.0',
    drill: drillName,
    runId: `${stamp}-${index.toString(16).padStart(6, '0')}`,
    status,
    summary: `${status}: run ${index}`,
    startedAt: started.toISOString(),
    finishedAt: new Date(started.getTime() + 125_000).toISOString(),
    durationMs: 125_000,
    host: 'runner',
    phases: [],
    checks: [],
    measured: { rtoSeconds: 100 + index, rpoSeconds: 301, backupAgeSeconds: 1, dataAgeAtSnapshotSeconds: 300 },
    objectives: {
      rto: { limit: '10m', limitSeconds: 600, measuredSeconds: 100 + index, status: 'met' },
      rpo: { limit: '26h', limitSeconds: 93_600, measuredSeconds: 301, status: 'met' },
    },
    ...overrides,
  };
}

function data(drills: DrillOverview[]): DashboardData {
  return { drills, ready: true, runningCount: 1, queueLength: 0, now: NOW };
}

describe('renderDashboard', () => {
  const orders: DrillOverview = {
    drill: drill('orders', { description: 'The orders database', schedule: '0 3 * * *' }),
    scheduled: { drill: 'orders', schedule: '0 3 * * *', timezone: 'Europe/Berlin', nextRunAt: new Date('2026-11-27T02:00:00.000Z'), activity: 'running', runId: '20261126T145900Z-abcdef' },
    recent: [report('orders', 0, 'failed', { objectives: { rto: { limit: '10m', limitSeconds: 600, measuredSeconds: 700, status: 'missed' } } }), ...Array.from({ length: 12 }, (_, index) => report('orders', index + 1, 'passed'))],
    problems: [],
  };
  const never: DrillOverview = { drill: drill('payments'), scheduled: undefined, recent: [], problems: [] };

  it('renders a row per drill with its status, activity, schedule in its timezone, objectives, trend and report link', () => {
    const page = renderDashboard(data([orders, never]));
    expect(page).toMatch(/<tr data-drill="orders" data-status="failed" data-activity="running">/);
    expect(page).toMatch(/<tr data-drill="payments" data-status="never run" data-activity="idle">/);
    expect(page).toContain('<code>0 3 * * *</code><span class="note">Europe/Berlin</span>');
    // 02:00 UTC is 03:00 in Berlin in November.
    expect(page).toContain('<time datetime="2026-11-27T02:00:00.000Z">2026-11-27 03:00</time><span class="note">in 11h (Europe/Berlin)</span>');
    expect(page).toContain('<span class="status status-failed" data-testid="last-status">failed</span>');
    expect(page).toContain('<span class="status status-never-run" data-testid="last-status">never run</span>');
    expect(page).toContain('11m 40s<span class="note">objective 10m</span> <span class="objective objective-missed">missed</span>');
    expect(page).toContain(`href="/reports/orders/${orders.recent[0]!.runId}.html"`);
    expect(page).toContain('20261126T145900Z-abcdef');
    expect(page).toContain('on demand only');
    // The trend: the last 10 runs, oldest first, the failed one last, and an RTO line through them.
    const squares = [...page.matchAll(/<rect class="run run-(\w+)"/g)].map((match) => match[1]);
    expect(squares).toEqual([...Array(9).fill('passed'), 'failed']);
    expect(page).toMatch(/<polyline points="(\S+,\S+ ){9}\S+,\S+"\/>/);
    expect(page).toContain('<title>firedrill: 1 failing</title>');
    expect(page).toContain('2 drills: 0 passed, 1 not passing, 1 never run · 1 running, 0 queued · scheduler ready');
  });

  it('escapes every value and contains no script, only a policy that forbids one', () => {
    const hostile: DrillOverview = {
      drill: drill('hostile', { description: HOSTILE, schedule: HOSTILE }),
      scheduled: { drill: 'hostile', schedule: HOSTILE, timezone: HOSTILE, nextRunAt: undefined, activity: 'queued', runId: HOSTILE },
      recent: [report('hostile', 0, 'passed', { runId: HOSTILE, summary: HOSTILE })],
      problems: [HOSTILE],
    };
    const page = renderDashboard(data([hostile]));
    expect(page).not.toContain('<script');
    expect(page).not.toContain(HOSTILE);
    expect(page).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;quoted&#39;');
    expect(page).toContain(`<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`);
    expect(page).toContain('data-testid="problems"');
  });

  it('says when no drill is configured', () => {
    const page = renderDashboard({ ...data([]), ready: false });
    expect(page).toContain('No drills are configured');
    expect(page).toContain('scheduler starting');
  });
});

describe('times on the dashboard', () => {
  it('shows a clock time in the given timezone, and UTC for a name the runtime does not know', () => {
    const date = new Date('2026-07-01T23:30:00.000Z');
    expect(formatInZone(date, 'UTC')).toBe('2026-07-01 23:30');
    expect(formatInZone(date, 'Europe/Berlin')).toBe('2026-07-02 01:30');
    expect(formatInZone(date, 'America/New_York')).toBe('2026-07-01 19:30');
    expect(formatInZone(date, 'Not/AZone')).toBe('2026-07-01 23:30');
  });

  it('says how far away a time is, to the minute', () => {
    expect(relative(new Date(NOW.getTime() + 5 * 3_600_000 + 2 * 60_000 + 20_000), NOW)).toBe('in 5h 2m');
    expect(relative(new Date(NOW.getTime() - 3 * 86_400_000), NOW)).toBe('3d ago');
    expect(relative(new Date(NOW.getTime() + 20_000), NOW)).toBe('within a minute');
    expect(relative(new Date(NOW.getTime() - 20_000), NOW)).toBe('just now');
  });
});
