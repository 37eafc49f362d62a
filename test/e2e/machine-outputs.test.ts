import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { useSourceDatabase } from '../support/lifecycle.ts';
import { drillFile } from '../support/source-database.ts';

/**
 * What CI and monitoring read from CLI runs: JUnit XML, a node_exporter
 * textfile and a Pushgateway (a real HTTP server on 127.0.0.1 that records
 * what it receives), across a passing and a failing run.
 */

const context = useSourceDatabase();

interface Received {
  method: string;
  path: string;
  contentType: string;
  body: string;
}

let gateway: Server;
let gatewayUrl: string;
let received: Received[];
beforeEach(async () => {
  received = [];
  gateway = createServer((request: IncomingMessage, response) => {
    let body = '';
    request.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
    request.on('end', () => {
      received.push({ method: request.method ?? '', path: request.url ?? '', contentType: String(request.headers['content-type']), body });
      response.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve));
  gatewayUrl = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}`;
});
afterEach(async () => {
  await new Promise<void>((resolve) => gateway.close(() => resolve()));
});

const FAILING_CHECK = '  - { name: impossible, type: sql, query: "select count(*) from orders", expect: { equals: -1 } }';

/** `name{labels} value` lines of a metric. */
function samples(text: string, metric: string): string[] {
  return text.split('\n').filter((line) => line.startsWith(`${metric}{`));
}

describe('JUnit, metrics file and Pushgateway', () => {
  it('record a passing and then a failing run, and keep the last success', async () => {
    const { workspace } = context;
    await mkdir(join(workspace.directory, 'out'));
    await workspace.writeFile('drills/orders.yaml', drillFile());
    const outputs = ['--junit', 'out/junit.xml', '--metrics-file', 'out/firedrill.prom', '--pushgateway', gatewayUrl];
    const passed = await workspace.run(['run', 'orders', ...outputs]);
    expect(passed.code, passed.stderr).toBe(0);

    const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' });
    const junit = parser.parse(await readFile(join(workspace.directory, 'out/junit.xml'), 'utf8')) as {
      testsuites: { testsuite: { name: string; tests: string; failures: string; errors: string; skipped: string } };
    };
    // The run, 3 checks, RTO and RPO, and the RTO trend (skipped: no earlier runs to judge it by).
    expect(junit.testsuites.testsuite).toMatchObject({ name: 'orders', tests: '7', failures: '0', errors: '0', skipped: '1' });

    const firstMetrics = await readFile(join(workspace.directory, 'out/firedrill.prom'), 'utf8');
    expect(samples(firstMetrics, 'firedrill_drill_status')).toEqual(['firedrill_drill_status{drill="orders"} 1']);
    const [firstSuccess] = samples(firstMetrics, 'firedrill_drill_last_success_timestamp_seconds');
    expect(firstSuccess).toMatch(/^firedrill_drill_last_success_timestamp_seconds\{drill="orders"\} \d+(\.\d+)?$/);
    expect(samples(firstMetrics, 'firedrill_drill_rto_seconds')).toHaveLength(1);
    expect(samples(firstMetrics, 'firedrill_backup_size_bytes')[0]).toMatch(/ \d{4,}$/);
    expect(samples(firstMetrics, 'firedrill_phase_duration_seconds')).toContainEqual(expect.stringMatching(/^firedrill_phase_duration_seconds\{drill="orders",phase="restore.load"\} /));
    // Only drill and phase as labels: no run ids, hosts or messages.
    const labels = new Set([...firstMetrics.matchAll(/[{,]([a-z_]+)="/g)].map((match) => match[1]));
    expect([...labels].sort()).toEqual(['drill', 'phase']);
    expect(received).toEqual([expect.objectContaining({ method: 'PUT', path: '/metrics/job/firedrill/drill/orders', contentType: expect.stringContaining('text/plain') as string })]);
    expect(received[0]?.body).toContain('firedrill_drill_status{drill="orders"} 1');

    await workspace.writeFile('drills/orders.yaml', drillFile({ checks: FAILING_CHECK }));
    const failed = await workspace.run(['run', 'orders', ...outputs]);
    expect(failed.code).toBe(1);
    const failedJunit = parser.parse(await readFile(join(workspace.directory, 'out/junit.xml'), 'utf8')) as {
      testsuites: { testsuite: { failures: string; testcase: { name: string; failure?: { message: string } }[] } };
    };
    expect(failedJunit.testsuites.testsuite.failures).toBe('1');
    expect(failedJunit.testsuites.testsuite.testcase.find((entry) => entry.name === 'check: impossible')?.failure?.message).toMatch(/expected -1/);
    const secondMetrics = await readFile(join(workspace.directory, 'out/firedrill.prom'), 'utf8');
    expect(samples(secondMetrics, 'firedrill_drill_status')).toEqual(['firedrill_drill_status{drill="orders"} 0']);
    expect(samples(secondMetrics, 'firedrill_check_failures')).toEqual(['firedrill_check_failures{drill="orders"} 1']);
    // The last success is still the first run's.
    expect(samples(secondMetrics, 'firedrill_drill_last_success_timestamp_seconds')).toEqual([firstSuccess]);
    expect(received).toHaveLength(2);
    expect(received[1]?.body).toContain('firedrill_drill_status{drill="orders"} 0');
  });

  it('refuses a Pushgateway URL with credentials before running anything', async () => {
    const { workspace } = context;
    await workspace.writeFile('drills/orders.yaml', drillFile());
    const result = await workspace.run(['run', 'orders', '--pushgateway', 'http://user:hunter2@127.0.0.1:9091']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--pushgateway must not hold credentials');
    expect(result.stderr).not.toContain('hunter2');
  });

  it('says so when an output cannot be written or pushed, and keeps the drill\'s exit code', async () => {
    const { workspace } = context;
    await workspace.writeFile('drills/orders.yaml', drillFile());
    gateway.removeAllListeners('request');
    gateway.on('request', (_request, response) => response.writeHead(503, 'Service Unavailable').end('down for maintenance'));
    const result = await workspace.run(['run', 'orders', '--junit', 'missing-directory/junit.xml', '--pushgateway', gatewayUrl]);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('firedrill: could not write the JUnit report');
    expect(result.stderr).toContain('ENOENT');
    expect(result.stderr).toContain('the Pushgateway at http://127.0.0.1');
    expect(result.stderr).toContain('answered 503 Service Unavailable for drill "orders": down for maintenance');
  });
});
