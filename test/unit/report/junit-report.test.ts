import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { renderJunit } from '../../../src/report/junit-report.ts';
import { REPORT_SCHEMA_VERSION, type Report } from '../../../src/report/report.ts';

/**
 * JUnit XML as CI systems read it: well-formed, one suite per drill, one case
 * for the run, per check and per objective, failures and errors told apart,
 * and nothing in it that XML cannot hold.
 */

function report(overrides: Partial<Report>): Report {
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    firedrillVersion: '0.1.0',
    drill: 'orders',
    runId: '20261126T000000Z-abcdef',
    status: 'passed',
    summary: 'passed: 2 checks passed',
    startedAt: '2026-11-26T00:00:00.000Z',
    finishedAt: '2026-11-26T00:01:00.000Z',
    durationMs: 60_000,
    host: 'ci-runner',
    phases: [
      { name: 'backup', startedAt: '2026-11-26T00:00:00.000Z', durationMs: 20_000, status: 'ok' },
      { name: 'restore', startedAt: '2026-11-26T00:00:20.000Z', durationMs: 30_000, status: 'ok' },
    ],
    checks: [
      { name: 'orders exist', type: 'sql', status: 'passed', message: 'value 1200', durationMs: 12 },
      { name: 'nothing lost', type: 'fingerprint', status: 'passed', message: 'matches', durationMs: 300 },
    ],
    measured: { rtoSeconds: 40, rpoSeconds: 60, backupAgeSeconds: 60, dataAgeAtSnapshotSeconds: null },
    objectives: { rto: { limit: '10m', limitSeconds: 600, measuredSeconds: 40, status: 'met' } },
    ...overrides,
  };
}

const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (name) => ['testsuite', 'testcase', 'property'].includes(name) });

interface Parsed {
  testsuites: {
    tests: string;
    failures: string;
    errors: string;
    testsuite: { name: string; tests: string; failures: string; errors: string; skipped: string; testcase: Record<string, unknown>[]; properties: { property: { name: string; value: string }[] } }[];
  };
}

function parse(xml: string): Parsed {
  expect(XMLValidator.validate(xml)).toBe(true);
  return parser.parse(xml) as Parsed;
}

describe('renderJunit', () => {
  it('renders a passed drill as a suite of passing cases: the run, each check, each objective', () => {
    const parsed = parse(renderJunit([report({})]));
    const [suite] = parsed.testsuites.testsuite;
    expect(suite).toMatchObject({ name: 'orders', tests: '4', failures: '0', errors: '0', skipped: '0' });
    expect(suite?.testcase.map((entry) => entry['name'])).toEqual(['backup and restore', 'check: orders exist', 'check: nothing lost', 'objective: RTO within 10m']);
    expect(suite?.testcase[1]).toMatchObject({ classname: 'firedrill.orders', time: '0.012' });
    expect(suite?.properties.property).toEqual(expect.arrayContaining([{ name: 'runId', value: '20261126T000000Z-abcdef' }, { name: 'rtoSeconds', value: '40' }]));
  });

  it('tells a failed check and a missed objective (failures) from a drill that could not run (an error), and skips what never ran', () => {
    const failed = report({
      drill: 'payments',
      status: 'failed',
      checks: [
        { name: 'rows', type: 'sql', status: 'failed', message: 'the value is 0; expected at least 1\nsecond line', durationMs: 5 },
        { name: 'fresh', type: 'freshness', status: 'passed', message: 'ok', durationMs: 5 },
      ],
      objectives: { rto: { limit: '1m', limitSeconds: 60, measuredSeconds: 75, status: 'missed' } },
    });
    const errored = report({
      drill: 'legacy',
      status: 'error',
      error: { kind: 'sandbox', message: 'the sandbox did not start: no Docker engine answers', phase: 'restore.sandbox' },
      checks: [{ name: 'rows', type: 'sql', status: 'skipped', message: 'not run: the drill stopped before the checks', durationMs: 0 }],
      objectives: { rpo: { limit: '26h', limitSeconds: 93_600, measuredSeconds: null, status: 'not measured' } },
    });
    const parsed = parse(renderJunit([failed, errored]));
    expect(parsed.testsuites).toMatchObject({ tests: '7', failures: '2', errors: '1' });
    const [payments, legacy] = parsed.testsuites.testsuite;
    expect(payments?.testcase[1]?.['failure']).toMatchObject({ message: 'the value is 0; expected at least 1', type: 'sql', '#text': 'the value is 0; expected at least 1\nsecond line' });
    expect(payments?.testcase[3]?.['failure']).toMatchObject({ message: 'RTO 75s exceeds 1m', type: 'objective' });
    expect(legacy).toMatchObject({ failures: '0', errors: '1', skipped: '2' });
    expect(legacy?.testcase[0]?.['error']).toMatchObject({ type: 'sandbox', message: 'in restore.sandbox: the sandbox did not start: no Docker engine answers' });
    expect(legacy?.testcase[1]?.['skipped']).toMatchObject({ message: 'not run: the drill stopped before the checks' });
  });

  it('escapes markup and drops characters XML cannot hold', () => {
    const tricky = report({
      drill: 'a&b',
      checks: [{ name: '<script>"quoted"\'', type: 'sql', status: 'failed', message: 'bad\u0000byte & <tag> \u001b[31mred', durationMs: 1 }],
    });
    const xml = renderJunit([tricky]);
    const parsed = parse(xml);
    expect(xml).not.toContain('\u0000');
    expect(parsed.testsuites.testsuite[0]?.name).toBe('a&b');
    expect(parsed.testsuites.testsuite[0]?.testcase[1]?.['name']).toBe('check: <script>"quoted"\'');
    expect(parsed.testsuites.testsuite[0]?.testcase[1]?.['failure']).toMatchObject({ '#text': 'badbyte & <tag> [31mred' });
  });
});
