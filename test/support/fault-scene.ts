import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, expect } from 'vitest';
import { SMTPServer } from 'smtp-server';
import { ageKeygen, canary, secretsIn } from './canaries.ts';
import { useSourceDatabase, type SourceContext } from './lifecycle.ts';
import { s3RepositoryYaml, startS3Peer, type S3Peer } from './s3.ts';
import { drillFile } from './source-database.ts';
import type { CliResult } from './workspace.ts';
import type { Report } from '../../src/report/report.ts';

/**
 * The fault-injection suite's stage (test/faults): the way a careful team runs
 * firedrill, with every secret a canary, and one good backup made before each
 * fault is injected.
 *
 * - The source database's password, the S3 secret key, the age identity and
 *   the SMTP password are planted canaries (canaries.ts).
 * - The repository is S3 (a real peer), zstd-compressed and age-encrypted; every
 *   run writes JSON, JUnit and a metrics textfile, and emails and posts a
 *   webhook on every outcome to servers on 127.0.0.1 that keep what they get.
 * - After each test, on top of `useWorkspace`'s checks (no temp entry,
 *   process or container left, no canary in any output, file under var/ or
 *   command line): no canary in any email or webhook request or in the HTML
 *   report; the earlier backup is still listed complete, byte for byte as it
 *   was; and no multipart upload is left open.
 */

export const DRILL = 'orders';

export interface FaultScene extends SourceContext {
  peer: S3Peer;
  /** The environment every CLI run of the scene needs (S3 endpoint and keys, SMTP password). */
  env: Record<string, string>;
  /** The backup made before the test, with the SHA-256 of each of its objects. */
  earlier: { id: string; objects: Record<string, string> };
  /** Where this test's repository lives in the bucket: `<prefix><drill>/<backup id>/...`. */
  prefix: string;
  /** Writes the drill file (default: the standard orders drill, notifying on every outcome). */
  writeDrill(text?: string): Promise<void>;
  /** `firedrill --log-level trace run orders --json` with JUnit and metrics outputs, and `extra` arguments. */
  drill(extra?: string[], env?: Record<string, string>): Promise<CliResult>;
  /** The same, started: for the tests that interrupt it. */
  startDrill(extra?: string[], env?: Record<string, string>): ReturnType<SourceContext['workspace']['start']>;
  /** Any other command, with the scene's environment. */
  cli(args: string[], env?: Record<string, string>): Promise<CliResult>;
  /** `firedrill backups orders --json`. */
  backups(): Promise<{ id: string; status: string; problem?: string }[]>;
  /** What the SMTP server and the webhook server received so far. */
  received: { mails: string[]; webhooks: string[] };
}

/** Everything a drill with notifications writes: the list appended to drill files. */
export function notifyOnEveryOutcome(hooksUrl: string): string {
  return ['notify:', '  - { type: email, to: [oncall@example.com], on: [always] }', `  - { type: webhook, url: "${hooksUrl}/firedrill", on: [always] }`].join('\n');
}

/** Parses a run's JSON report, failing with its stderr when stdout holds none. */
export function reportOf(result: CliResult): Report {
  try {
    return JSON.parse(result.stdout) as Report;
  } catch {
    throw new Error(`no JSON report on stdout (exit ${result.code}); stderr:\n${result.stderr.slice(-4000)}`);
  }
}

let nextPrefix = 0;

export function useFaultScene(): FaultScene {
  const source = useSourceDatabase();
  const scene = { received: { mails: [], webhooks: [] } } as unknown as FaultScene;
  Object.defineProperty(scene, 'workspace', { get: () => source.workspace });
  Object.defineProperty(scene, 'source', { get: () => source.source });

  const identity = ageKeygen();
  const smtpPassword = canary('the SMTP password');
  let smtp: SMTPServer;
  let smtpPort = 0;
  let hooks: Server;
  let hooksUrl = '';

  beforeAll(async () => {
    scene.peer = await startS3Peer();
    smtp = new SMTPServer({
      logger: false,
      disabledCommands: ['STARTTLS'],
      allowInsecureAuth: true,
      onAuth: (auth, _session, callback) =>
        auth.username === 'alerts' && auth.password === smtpPassword ? callback(null, { user: 'alerts' }) : callback(new Error('Invalid username or password')),
      onData(stream, _session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => {
          scene.received.mails.push(Buffer.concat(chunks).toString('utf8'));
          callback();
        });
      },
    });
    await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
    smtpPort = (smtp.server.address() as AddressInfo).port;
    hooks = createServer((request, response) => {
      let body = '';
      request.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      request.on('end', () => {
        scene.received.webhooks.push(`${request.method} ${request.url}\n${JSON.stringify(request.headers)}\n${body}`);
        response.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => hooks.listen(0, '127.0.0.1', resolve));
    hooksUrl = `http://127.0.0.1:${(hooks.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await scene.peer?.close();
    if (smtp) await new Promise<void>((resolve) => smtp.close(() => resolve()));
    if (hooks) await new Promise<void>((resolve) => hooks.close(() => resolve()));
  });

  const outputs = ['--junit', 'var/junit.xml', '--metrics-file', 'var/firedrill.prom'];
  scene.cli = (args, env = {}) => source.workspace.run(args, { ...scene.env, ...env });
  scene.drill = (extra = [], env = {}) => scene.cli(['--log-level', 'trace', 'run', DRILL, '--json', ...outputs, ...extra], env);
  scene.startDrill = (extra = [], env = {}) => source.workspace.start(['--log-level', 'trace', 'run', DRILL, '--json', ...outputs, ...extra], { ...scene.env, ...env });
  scene.backups = async () => {
    const listed = await scene.cli(['backups', DRILL, '--json']);
    expect(listed.code, listed.stderr).toBe(0);
    return JSON.parse(listed.stdout) as { id: string; status: string; problem?: string }[];
  };
  scene.writeDrill = (text) => source.workspace.writeFile(`drills/${DRILL}.yaml`, text ?? drillFile({ extra: notifyOnEveryOutcome(hooksUrl) }));

  beforeEach(async () => {
    scene.prefix = `faults-${++nextPrefix}/`;
    scene.received.mails.length = 0;
    scene.received.webhooks.length = 0;
    scene.env = {
      S3_ENDPOINT: scene.peer.endpoint,
      S3_ACCESS_KEY_ID: scene.peer.accessKeyId,
      S3_SECRET_ACCESS_KEY: scene.peer.secretAccessKey,
      SMTP_PASSWORD: smtpPassword,
    };
    const { workspace } = source;
    await workspace.writeFile(
      'config/firedrill.yaml',
      [
        'repositories:',
        ...s3RepositoryYaml({ name: 'offsite', bucket: scene.peer.bucket, prefix: scene.prefix, recipient: identity.recipient }),
        `smtp: { url: "smtp://127.0.0.1:${smtpPort}", from: "firedrill <firedrill@example.com>", user: alerts, password: { env: SMTP_PASSWORD }, timeout: 10s, tls: { requireTLS: false } }`,
        '',
      ].join('\n'),
    );
    await workspace.writeFile('age-key.txt', identity.key);
    await scene.writeDrill();
    const made = await scene.drill();
    const report = reportOf(made);
    expect(report.status, made.stderr.slice(-2000)).toBe('passed');
    scene.earlier = { id: report.backup?.id as string, objects: await objectDigests(scene.peer, `${scene.prefix}${DRILL}/${report.backup?.id}/`) };
    expect(Object.keys(scene.earlier.objects).length).toBeGreaterThan(1);
  });

  afterEach(async () => {
    // The checks below read the standard drill, whatever the test made of it.
    await scene.writeDrill();
    // What the drill sent out, and the HTML report of its latest run, hold no secret either.
    const html = await scene.cli(['report', 'latest', '--drill', DRILL, '--out', '-']);
    expect(html.code, html.stderr).toBe(0);
    const sent = [...scene.received.mails.map((mail) => ['an email', mail]), ...scene.received.webhooks.map((hook) => ['a webhook request', hook]), ['the HTML report', html.stdout]];
    expect(sent.flatMap(([what, text]) => secretsIn(text as string).map((secret) => `${secret} in ${what}`))).toEqual([]);
    // Nothing that should stay was deleted or changed, and no upload is left open.
    expect(await objectDigests(scene.peer, `${scene.prefix}${DRILL}/${scene.earlier.id}/`)).toEqual(scene.earlier.objects);
    expect((await scene.backups()).find((entry) => entry.id === scene.earlier.id)?.status).toBe('complete');
    expect(await scene.peer.openUploads()).toEqual([]);
  });

  return scene;
}

/** SHA-256 of each object under a prefix, read from the peer's own directory (s3rver keeps `<key>._S3rver_object`). */
async function objectDigests(peer: S3Peer, prefix: string): Promise<Record<string, string>> {
  const directory = join(peer.directory, peer.bucket, prefix);
  const digests: Record<string, string> = {};
  const entries = await readdir(directory, { recursive: true, withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (!entry.isFile() || !entry.name.endsWith('._S3rver_object')) continue;
    const path = join(entry.parentPath, entry.name);
    digests[path.slice(directory.length).replace(/^\//, '')] = createHash('sha256').update(await readFile(path)).digest('hex');
  }
  return digests;
}
