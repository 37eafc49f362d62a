import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { SANDBOX_IMAGE, describeWithDocker } from '../support/docker.ts';
import { CLI } from '../support/workspace.ts';
import { drillMetricsRegistry } from '../../src/report/drill-metrics.ts';
import { schedulerRegistry } from '../../src/server/metrics.ts';
import { describeNeeding } from '../support/prerequisite.ts';

/**
 * What deploys firedrill: the Dockerfile (built here from a local stand-in
 * for the Node.js image, scripts/build-node-base-image.sh, since no registry
 * answers), docker-compose.yml and its example under deploy/compose/, the
 * Kubernetes manifests and the Grafana dashboard. The image runs the way a
 * user runs it: the demo drill end to end, and the compose example's drill
 * against the compose example's seeded source.
 */

const ROOT = resolve(import.meta.dirname, '../..');
const PACKAGE_VERSION = (JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const IMAGE = 'firedrill-test/firedrill:ci';
const BUILD_STAGE_IMAGE = 'firedrill-test/firedrill-build:ci';
/** On the images this file builds, so that the ones a rebuild replaced can be found and removed. */
const IMAGE_LABEL = 'io.firedrill.test-image=deploy';
/** Every container and network this file starts carries it, so that afterAll finds what a failed test left. */
const TEST_LABEL = `io.firedrill.test=deploy-${process.pid}`;

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command with an argument array; a command that cannot start is a result too (code null). */
function run(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<Result> {
  return new Promise((resolveResult) => {
    const child = spawn(command, args, { cwd: options.cwd ?? ROOT, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      resolveResult({ code: null, stdout, stderr: `${stderr}${error.message}` });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolveResult({ code, stdout, stderr });
    });
  });
}

/** The end of a long output, for an assertion's message. */
const tail = (result: Result) => `${result.stdout}\n${result.stderr}`.trim().split('\n').slice(-40).join('\n');

// ---------------------------------------------------------------------------------------------
// Kubernetes

interface Container {
  name: string;
  args?: string[];
  ports?: { name?: string; containerPort: number }[];
  volumeMounts?: { name: string; mountPath: string }[];
  resources?: { limits?: { cpu?: string; memory?: string } };
  securityContext?: { runAsNonRoot?: boolean; readOnlyRootFilesystem?: boolean; allowPrivilegeEscalation?: boolean; capabilities?: { drop?: string[] } };
  livenessProbe?: { httpGet?: { path: string; port: string | number } };
  readinessProbe?: { httpGet?: { path: string; port: string | number } };
}
interface PodSpec {
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
  containers: Container[];
  initContainers?: Container[];
  restartPolicy?: string;
  volumes?: { name: string; emptyDir?: object; configMap?: { name: string }; secret?: { secretName: string } }[];
}
/** The fields of the kinds' specs that these tests read. */
interface Spec {
  replicas?: number;
  template?: { metadata: { labels: Record<string, string> }; spec: PodSpec };
  jobTemplate?: { spec: { backoffLimit?: number; template: { spec: PodSpec } } };
  concurrencyPolicy?: string;
  type?: string;
  ports?: unknown[];
  selector?: Record<string, string>;
}
interface KubernetesObject {
  file: string;
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: Spec;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

const API_VERSIONS: Record<string, string> = {
  Namespace: 'v1',
  ServiceAccount: 'v1',
  ConfigMap: 'v1',
  Secret: 'v1',
  Service: 'v1',
  Deployment: 'apps/v1',
  CronJob: 'batch/v1',
  NetworkPolicy: 'networking.k8s.io/v1',
  PodDisruptionBudget: 'policy/v1',
};

async function kubernetesObjects(): Promise<KubernetesObject[]> {
  const objects: KubernetesObject[] = [];
  for (const directory of ['service', 'cronjob']) {
    for (const name of (await readdir(join(ROOT, 'deploy/kubernetes', directory))).sort()) {
      const file = `deploy/kubernetes/${directory}/${name}`;
      expect(name, `${file}: manifests end in .yaml`).toMatch(/\.yaml$/);
      for (const document of parseAllDocuments(await readFile(join(ROOT, file), 'utf8'))) {
        expect(document.errors.map((error) => error.message), file).toEqual([]);
        objects.push({ ...(document.toJS() as Omit<KubernetesObject, 'file'>), file });
      }
    }
  }
  return objects;
}

function podSpecOf(object: KubernetesObject): PodSpec | undefined {
  if (object.kind === 'Deployment') return object.spec?.template?.spec;
  if (object.kind === 'CronJob') return object.spec?.jobTemplate?.spec.template.spec;
  return undefined;
}

function only(objects: KubernetesObject[], kind: string, name?: string): KubernetesObject {
  const found = objects.filter((object) => object.kind === kind && (name === undefined || object.metadata.name === name));
  expect(found.map((object) => `${object.file}: ${object.metadata.name}`), `one ${kind} ${name ?? ''}`).toHaveLength(1);
  return found[0]!;
}

describe('the Kubernetes manifests', () => {
  let objects: KubernetesObject[];
  beforeAll(async () => {
    objects = await kubernetesObjects();
  });

  it('are objects of known kinds with their API versions, all in the namespace firedrill', () => {
    expect(objects.length).toBeGreaterThan(0);
    for (const object of objects) {
      expect(API_VERSIONS[object.kind], `${object.file}: kind ${object.kind}`).toBeDefined();
      expect(object.apiVersion, `${object.file}: ${object.kind}`).toBe(API_VERSIONS[object.kind]);
      expect(object.metadata.name, object.file).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
      expect(object.kind === 'Namespace' ? object.metadata.name : object.metadata.namespace, `${object.file}: ${object.metadata.name}`).toBe('firedrill');
    }
  });

  it('run every container as the image\'s unprivileged user, read-only, without privileges, with resource limits and writable /tmp and var', async () => {
    const dockerfileUser = /^USER (\d+):\d+$/m.exec(await readFile(join(ROOT, 'Dockerfile'), 'utf8'))?.[1];
    const pods = objects.filter((object) => podSpecOf(object));
    expect(pods.map((object) => object.kind).sort()).toEqual(['CronJob', 'Deployment']);
    for (const object of pods) {
      const pod = podSpecOf(object)!;
      const where = `${object.file}: ${object.metadata.name}`;
      expect(pod.securityContext?.runAsNonRoot, where).toBe(true);
      expect(String(pod.securityContext?.runAsUser), where).toBe(dockerfileUser);
      const volumes = new Map((pod.volumes ?? []).map((volume) => [volume.name, volume]));
      for (const container of [...pod.containers, ...(pod.initContainers ?? [])]) {
        const at = `${where}, container ${container.name}`;
        expect(container.securityContext, at).toMatchObject({ runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
        expect(container.resources?.limits?.cpu, at).toBeDefined();
        expect(container.resources?.limits?.memory, at).toBeDefined();
        const mounts = new Map((container.volumeMounts ?? []).map((mount) => [mount.mountPath, mount.name]));
        for (const path of ['/tmp', '/var/lib/firedrill/var']) expect(volumes.get(mounts.get(path) ?? '')?.emptyDir, `${at}: an emptyDir at ${path}`).toBeDefined();
        for (const mount of container.volumeMounts ?? []) expect(volumes.has(mount.name), `${at}: volume ${mount.name}`).toBe(true);
      }
      for (const volume of volumes.values()) {
        if (volume.configMap) only(objects, 'ConfigMap', volume.configMap.name);
        if (volume.secret) only(objects, 'Secret', volume.secret.secretName);
      }
    }
  });

  it('run two replicas of serve with coordination, probed on /healthz and /readyz, behind a ClusterIP Service on port 9750', () => {
    const deployment = only(objects, 'Deployment');
    expect(deployment.spec?.replicas).toBe(2);
    const [container] = podSpecOf(deployment)!.containers;
    expect(container?.args).toEqual(['serve']);
    expect(container?.ports).toEqual([{ name: 'http', containerPort: 9750 }]);
    expect(container?.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(container?.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'http' });
    const config = parse(only(objects, 'ConfigMap', 'firedrill-config').data!['firedrill.yaml']!) as { coordination?: unknown; server?: { host?: string; port?: number } };
    expect(config.coordination).toBeDefined();
    expect(config.server).toMatchObject({ host: '0.0.0.0', port: 9750 });
    const service = only(objects, 'Service');
    expect(service.spec).toMatchObject({ type: 'ClusterIP', ports: [{ port: 9750, targetPort: 'http' }] });
    expect(deployment.spec?.template?.metadata.labels).toMatchObject(service.spec?.selector ?? { selector: 'missing' });
  });

  it('run each drill of the ConfigMap as a CronJob of `firedrill run`, one run at a time and never retried', () => {
    const drills = Object.keys(only(objects, 'ConfigMap', 'firedrill-drills').data!).map((key) => key.replace(/\.yaml$/, ''));
    const cronJobs = objects.filter((object) => object.kind === 'CronJob');
    expect(cronJobs.length).toBeGreaterThan(0);
    for (const cronJob of cronJobs) {
      const args = podSpecOf(cronJob)!.containers[0]?.args ?? [];
      expect(args.slice(0, 1)).toEqual(['run']);
      expect(drills).toContain(args[1]);
      expect(args.some((arg) => ['--pushgateway', '--metrics-file'].includes(arg)), `${cronJob.file}: metrics`).toBe(true);
      expect(cronJob.spec?.concurrencyPolicy).toBe('Forbid');
      expect(cronJob.spec?.jobTemplate?.spec.backoffLimit).toBe(0);
      expect(podSpecOf(cronJob)!.restartPolicy).toBe('Never');
    }
  });

  it('hold a config and drills that validate, every secret a key of the Secret, read where the Deployment mounts it', async () => {
    const [container] = podSpecOf(only(objects, 'Deployment'))!.containers;
    const volumes = podSpecOf(only(objects, 'Deployment'))!.volumes ?? [];
    const secretVolume = volumes.find((volume) => volume.secret?.secretName === 'firedrill-secrets')!.name;
    const secretsPath = container!.volumeMounts!.find((mount) => mount.name === secretVolume)!.mountPath;
    const directory = await mkdtemp(join(tmpdir(), 'firedrill-test-kubernetes-'));
    try {
      // The Secret template's keys become files, where the config reads them (its mount path, moved here).
      const secrets = only(objects, 'Secret', 'firedrill-secrets').stringData!;
      await mkdir(join(directory, 'secrets'));
      for (const [key, value] of Object.entries(secrets)) await writeFile(join(directory, 'secrets', key), value);
      const relocate = (text: string) => text.replaceAll(`${secretsPath}/`, `${join(directory, 'secrets')}/`);
      await mkdir(join(directory, 'config'));
      await writeFile(join(directory, 'config/firedrill.yaml'), relocate(only(objects, 'ConfigMap', 'firedrill-config').data!['firedrill.yaml']!));
      await mkdir(join(directory, 'drills'));
      for (const [name, text] of Object.entries(only(objects, 'ConfigMap', 'firedrill-drills').data!)) await writeFile(join(directory, 'drills', name), relocate(text));
      // The template's recipient is a placeholder; this one is the README's example public key.
      const env = { PATH: process.env.PATH ?? '', HOME: directory, FIREDRILL_AGE_RECIPIENT: 'age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p' };
      const result = await run(process.execPath, [CLI, 'validate'], { cwd: directory, env });
      expect(result.code, tail(result)).toBe(0);
      expect(result.stdout).toContain('drills/orders.yaml: ok');
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Grafana

/** The metrics firedrill exposes (/metrics of serve, --metrics-file, --pushgateway): what the dashboard may query, by name and labels. */
const EXPOSED = [
  ...drillMetricsRegistry([]).getMetricsAsArray(),
  ...schedulerRegistry({ ready: true, drills: () => [], queueLength: () => 0, runningCount: () => 0, requestRun: () => Promise.reject(new Error('not in this test')) }).getMetricsAsArray(),
].map((metric) => ({ name: metric.name, labelNames: (metric as unknown as { labelNames: string[] }).labelNames }));
const METRICS = EXPOSED.map((metric) => metric.name);
/** The metrics issue 7 asks the dashboard to show (it shows the others too). */
const ISSUE_METRICS = [
  'firedrill_drill_status',
  'firedrill_drill_last_success_timestamp_seconds',
  'firedrill_drill_rto_seconds',
  'firedrill_drill_rpo_seconds',
  'firedrill_backup_size_bytes',
  'firedrill_phase_duration_seconds',
  'firedrill_check_failures',
  'firedrill_scheduler_next_run_timestamp_seconds',
  'firedrill_scheduler_running_drills',
  'firedrill_scheduler_queue_length',
];
/** Totals over a scheduler (running drills, queue length): no drill label to filter by. */
const WITHOUT_DRILL_LABEL = new Set(EXPOSED.filter((metric) => !metric.labelNames.includes('drill')).map((metric) => metric.name));

interface Panel {
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  targets?: { expr: string; datasource?: { uid: string } }[];
  panels?: Panel[];
}

describe('the Grafana dashboard', () => {
  let dashboard: { uid: string; templating: { list: { name: string; type: string; query: unknown; multi?: boolean; includeAll?: boolean }[] }; panels: Panel[] };
  beforeAll(async () => {
    dashboard = JSON.parse(await readFile(join(ROOT, 'deploy/grafana/firedrill-dashboard.json'), 'utf8')) as typeof dashboard;
  });

  it('is JSON with a Prometheus data source variable and a multi-value drill variable', () => {
    expect(dashboard.uid).toBeTruthy();
    const variables = new Map(dashboard.templating.list.map((variable) => [variable.name, variable]));
    expect(variables.get('datasource')).toMatchObject({ type: 'datasource', query: 'prometheus' });
    expect(variables.get('drill')).toMatchObject({ type: 'query', multi: true, includeAll: true });
  });

  it('queries only metrics firedrill exposes, through the data source variable, each filtered by $drill where it has the label, and shows all of them', () => {
    for (const metric of ISSUE_METRICS) expect(METRICS).toContain(metric);
    const panels = dashboard.panels.flatMap((panel) => [panel, ...(panel.panels ?? [])]).filter((panel) => panel.type !== 'row');
    expect(panels.length).toBeGreaterThan(0);
    const shown = new Set<string>();
    for (const panel of panels) {
      expect(panel.datasource?.uid, panel.title).toBe('${datasource}');
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      for (const target of panel.targets ?? []) {
        expect(target.datasource?.uid, panel.title).toBe('${datasource}');
        const metrics = target.expr.match(/\bfiredrill_[a-z0-9_]+/g) ?? [];
        expect(metrics.length, `${panel.title}: ${target.expr}`).toBeGreaterThan(0);
        for (const metric of metrics) {
          expect(METRICS, `${panel.title}: ${target.expr}`).toContain(metric);
          shown.add(metric);
          if (!WITHOUT_DRILL_LABEL.has(metric)) expect(target.expr, panel.title).toContain(`${metric}{drill=~"$drill"`);
        }
      }
    }
    expect([...shown].sort()).toEqual([...METRICS].sort());
  });
});

// ---------------------------------------------------------------------------------------------
// docker compose

const compose = await run('docker-compose', ['version', '--short']);
const COMPOSE_MISSING = compose.code === 0 ? undefined : 'docker-compose is not installed (apt-get install docker-compose; .ci/run installs it)';

/** As describeWithDocker: FIREDRILL_REQUIRE_DOCKER=1 (set by .ci/run) makes a missing docker-compose a failure, never a skip. */
function describeWithCompose(name: string, body: () => void): void {
  describeNeeding({ what: 'docker-compose', missing: COMPOSE_MISSING, requiredBy: 'FIREDRILL_REQUIRE_DOCKER' }, name, body);
}

interface ComposeService {
  build?: { context: string };
  image?: string;
  ports?: (string | { host_ip?: string; target: number; published?: string | number })[];
  volumes?: (string | { source?: string; target: string })[];
  environment?: Record<string, string>;
}

/** docker-compose.yml as written, with `${NAME:-default}` replaced by its default: what `docker compose up` gets on a machine without .env. */
async function composeFile(): Promise<{ services: Record<string, ComposeService> }> {
  const text = await readFile(join(ROOT, 'docker-compose.yml'), 'utf8');
  return parse(text.replace(/\$\{[A-Z0-9_]+:-([^}]*)\}/g, '$1')) as { services: Record<string, ComposeService> };
}

/** `docker run` arguments for the compose example's firedrill service: its environment, and its config and drills mounted. */
async function composeFiredrillArgs(): Promise<string[]> {
  const service = (await composeFile()).services['firedrill']!;
  const mounts = (service.volumes ?? [])
    .filter((volume): volume is string => typeof volume === 'string' && volume.startsWith('./'))
    .flatMap((volume) => ['--volume', volume.replace(/^\.\//, `${ROOT}/`)]);
  expect(mounts, 'config and drills').toHaveLength(4);
  return [...Object.entries(service.environment ?? {}).flatMap(([name, value]) => ['--env', `${name}=${value}`]), ...mounts];
}

describeWithCompose('docker-compose.yml', () => {
  it('is accepted by docker-compose config, publishes every port on 127.0.0.1 only and mounts no Docker socket', async () => {
    // Without the caller's environment, as on a machine without .env: the demo defaults apply.
    const result = await run('docker-compose', ['-f', 'docker-compose.yml', 'config'], { env: { PATH: process.env.PATH ?? '', HOME: tmpdir() } });
    expect(result.code, tail(result)).toBe(0);
    const config = parse(result.stdout) as { services: Record<string, ComposeService> };
    expect(Object.keys(config.services).sort()).toEqual(['firedrill', 'mailpit', 'minio', 'minio-setup', 'source']);
    const published = Object.entries(config.services).flatMap(([name, service]) => (service.ports ?? []).map((port) => ({ name, port })));
    expect(published.map(({ name }) => name).sort()).toEqual(['firedrill', 'mailpit', 'minio', 'minio']);
    for (const { name, port } of published) {
      // docker-compose 1.x writes "127.0.0.1:9750:9750/tcp", Compose v2 an object.
      expect(typeof port === 'string' ? port.split(':')[0] : port.host_ip, `${name}: ${JSON.stringify(port)}`).toBe('127.0.0.1');
    }
    expect(result.stdout).not.toContain('docker.sock');
    expect(config.services['firedrill']?.build?.context).toBe(ROOT);
  });
});

// ---------------------------------------------------------------------------------------------
// The image

describe('the Dockerfile', () => {
  it('copies only what the .dockerignore allowlist lets into the build context', async () => {
    const allowed = (await readFile(join(ROOT, '.dockerignore'), 'utf8'))
      .split('\n')
      .filter((line) => line.startsWith('!'))
      .map((line) => line.slice(1));
    const copied = [...(await readFile(join(ROOT, 'Dockerfile'), 'utf8')).matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((match) => match[1]!.split(' '));
    expect(copied.length).toBeGreaterThan(0);
    for (const source of copied) expect(allowed, `COPY ${source}`).toContain(source);
  });
});

describeWithDocker('the firedrill image', () => {
  beforeAll(async () => {
    let base = process.env['FIREDRILL_NODE_BASE_IMAGE'];
    if (!base) {
      // Nothing to do (a second) when .ci/run built it already; else a few minutes with mmdebstrap.
      const started = Date.now();
      const script = await run('bash', ['scripts/build-node-base-image.sh'], { timeoutMs: 540_000 });
      expect(script.code, `scripts/build-node-base-image.sh failed:\n${tail(script)}`).toBe(0);
      base = script.stdout.trim().split('\n').at(-1)!;
      console.log(`firedrill tests: base image ${base} ready in ${((Date.now() - started) / 1000).toFixed(1)}s`);
    }
    const started = Date.now();
    const build = (args: string[]) => run('docker', ['build', '--build-arg', `BASE_IMAGE=${base}`, '--label', IMAGE_LABEL, ...args, '.'], { timeoutMs: 540_000 });
    // The build stage gets a tag too: it holds the npm ci layer, the cache that keeps the next build fast.
    for (const args of [['--target', 'build', '--tag', BUILD_STAGE_IMAGE], ['--tag', IMAGE]]) {
      const result = await build(args);
      expect(result.code, `docker build ${args.join(' ')} failed:\n${tail(result)}`).toBe(0);
    }
    // The images these builds replaced (untagged now): removed, so that rebuilds do not pile up.
    await run('docker', ['image', 'prune', '--force', '--filter', `label=${IMAGE_LABEL}`]);
    console.log(`firedrill tests: docker build of ${IMAGE} from ${base} took ${((Date.now() - started) / 1000).toFixed(1)}s`);
  }, 600_000);

  afterAll(async () => {
    // What a failed or timed-out test left (the image stays, as a cache for the next run).
    const containers = await run('docker', ['ps', '--all', '--quiet', '--filter', `label=${TEST_LABEL}`]);
    const ids = containers.stdout.split('\n').filter(Boolean);
    if (ids.length > 0) await run('docker', ['rm', '--force', '--volumes', ...ids]);
    const networks = await run('docker', ['network', 'ls', '--quiet', '--filter', `label=${TEST_LABEL}`]);
    for (const id of networks.stdout.split('\n').filter(Boolean)) await run('docker', ['network', 'rm', id]);
  });

  const dockerRun = (args: string[], timeoutMs?: number) => run('docker', ['run', '--rm', '--label', TEST_LABEL, ...args], { timeoutMs });

  it('prints the version in package.json', async () => {
    const result = await dockerRun([IMAGE, '--version']);
    expect(result.code, tail(result)).toBe(0);
    expect(result.stdout.trim()).toBe(PACKAGE_VERSION);
  });

  it('runs as the unprivileged user firedrill, and by default serve under tini, health-checked on /healthz of port 9750', async () => {
    const id = await dockerRun(['--entrypoint', 'id', IMAGE]);
    expect(id.code, tail(id)).toBe(0);
    expect(id.stdout.trim()).toMatch(/^uid=10001\(firedrill\) gid=10001\(firedrill\)/);
    const inspect = await run('docker', ['image', 'inspect', '--format', '{{json .Config}}', IMAGE]);
    const config = JSON.parse(inspect.stdout) as { User: string; Entrypoint: string[]; Cmd: string[]; ExposedPorts: Record<string, object>; Healthcheck: { Test: string[] }; WorkingDir: string };
    expect(config).toMatchObject({ User: '10001:10001', Entrypoint: ['/usr/bin/tini', '--', 'firedrill'], Cmd: ['serve'], WorkingDir: '/var/lib/firedrill' });
    expect(Object.keys(config.ExposedPorts)).toEqual(['9750/tcp']);
    expect(config.Healthcheck.Test.join(' ')).toContain('http://127.0.0.1:9750/healthz');
  });

  it('serves its health checks and /metrics on port 9750 by default, is healthy to Docker, and stops cleanly on docker stop', async () => {
    const name = `firedrill-test-deploy-${process.pid}-serve`;
    // The compose example as it is: its drill is scheduled; its source, MinIO and Mailpit do not exist here.
    const started = await run('docker', ['run', '--detach', '--label', TEST_LABEL, '--name', name, '--health-interval', '1s', '--publish', '127.0.0.1::9750', ...(await composeFiredrillArgs()), IMAGE]);
    expect(started.code, tail(started)).toBe(0);
    try {
      const logs = async () => tail(await run('docker', ['logs', name]));
      let health = 'starting';
      for (const deadline = Date.now() + 60_000; health === 'starting' && Date.now() < deadline; ) {
        await new Promise((resolveWait) => setTimeout(resolveWait, 500));
        health = (await run('docker', ['inspect', '--format', '{{.State.Health.Status}}', name])).stdout.trim();
      }
      expect(health, await logs()).toBe('healthy');
      const address = (await run('docker', ['port', name, '9750/tcp'])).stdout.trim().split('\n')[0];
      expect(address).toMatch(/^127\.0\.0\.1:\d+$/);
      expect((await fetch(`http://${address}/readyz`)).status).toBe(200);
      expect(await (await fetch(`http://${address}/metrics`)).text()).toMatch(/^firedrill_scheduler_next_run_timestamp_seconds\{drill="shop"\} \d+/m);
      // SIGTERM reaches firedrill through tini, and serve stops on its own, well within Docker's patience.
      const stopped = await run('docker', ['stop', '--time', '40', name]);
      expect(stopped.code, tail(stopped)).toBe(0);
      expect((await run('docker', ['inspect', '--format', '{{.State.ExitCode}}', name])).stdout.trim(), await logs()).toBe('0');
      expect(await logs()).toContain('firedrill serve: stopped');
    } finally {
      await run('docker', ['rm', '--force', name]);
    }
  });

  it('validates the docker compose example with the environment and mounts docker-compose.yml gives it', async () => {
    const result = await dockerRun([...(await composeFiredrillArgs()), IMAGE, 'validate']);
    expect(result.code, tail(result)).toBe(0);
    expect(result.stdout).toContain('config/firedrill.yaml: ok');
    expect(result.stdout).toContain('drills/shop.yaml: ok');
  });

  it('runs the demo drill end to end in a local sandbox, with a read-only root filesystem and no Docker socket', async () => {
    const result = await dockerRun([
      '--read-only',
      '--tmpfs', '/tmp:mode=1777',
      '--tmpfs', '/var/lib/firedrill/var:uid=10001,gid=10001',
      '--volume', `${ROOT}/drills:/var/lib/firedrill/drills:ro`,
      IMAGE, 'demo',
    ]);
    expect(result.code, tail(result)).toBe(0);
    expect(result.stdout).toMatch(/drill demo: PASSED/);
    expect(result.stdout).toMatch(/sandbox +local cluster PostgreSQL/);
  });

  it('backs up the compose example\'s seeded source and restores it, and every check of its drill passes', async () => {
    const name = `firedrill-test-deploy-${process.pid}`;
    const network = await run('docker', ['network', 'create', '--label', TEST_LABEL, name]);
    expect(network.code, tail(network)).toBe(0);
    const directory = await mkdtemp(join(tmpdir(), 'firedrill-test-compose-'));
    try {
      const source = (await composeFile()).services['source']!;
      // The compose example's source service, on the PostgreSQL image built here (the example names postgres:15).
      const env = Object.entries(source.environment ?? {}).flatMap(([key, value]) => ['--env', `${key}=${value}`]);
      const started = await run('docker', [
        'run', '--detach', '--label', TEST_LABEL, '--name', `${name}-source`, '--network', name, '--network-alias', 'source',
        ...env, '--volume', `${ROOT}/deploy/compose/source:/docker-entrypoint-initdb.d:ro`, SANDBOX_IMAGE,
      ]);
      expect(started.code, tail(started)).toBe(0);
      const deadline = Date.now() + 60_000;
      let ready: Result;
      do {
        await new Promise((resolveWait) => setTimeout(resolveWait, 500));
        ready = await run('docker', ['exec', `${name}-source`, 'pg_isready', '--host=127.0.0.1', '--username=postgres', '--dbname=shop']);
      } while (ready.code !== 0 && Date.now() < deadline);
      expect(ready.code, `the source never became ready:\n${(await run('docker', ['logs', `${name}-source`])).stderr}`).toBe(0);
      // The drill names its repository "minio"; no MinIO image can be pulled here, so that name is a
      // local directory. The SMTP server does not answer: the notification fails, and says so in the report.
      await mkdir(join(directory, 'config'));
      await writeFile(
        join(directory, 'config/firedrill.yaml'),
        ['repositories:', '  minio: { type: local, path: ./var/backups }', 'smtp: { url: "smtp://127.0.0.1:9", from: "firedrill <firedrill@example.com>" }', ''].join('\n'),
      );
      const firedrill = (await composeFile()).services['firedrill']!;
      const result = await dockerRun([
        '--network', name,
        '--env', `SHOP_DB_PASSWORD=${firedrill.environment!['SHOP_DB_PASSWORD']}`,
        '--tmpfs', '/var/lib/firedrill/var:uid=10001,gid=10001',
        '--volume', `${directory}/config:/var/lib/firedrill/config:ro`,
        '--volume', `${ROOT}/deploy/compose/drills:/var/lib/firedrill/drills:ro`,
        IMAGE, 'run', 'shop', '--json',
      ]);
      expect(result.code, tail(result)).toBe(0);
      const report = JSON.parse(result.stdout) as { status: string; checks: { name: string; status: string }[]; notifications?: { type: string; status: string }[] };
      expect(report.status).toBe('passed');
      expect(report.checks.map((check) => check.status)).toEqual(report.checks.map(() => 'passed'));
      expect(report.checks.map((check) => check.name)).toContain('nothing lost');
      expect(report.notifications?.map((notification) => [notification.type, notification.status])).toEqual([['email', 'failed']]);
    } finally {
      await run('docker', ['rm', '--force', '--volumes', `${name}-source`]);
      await run('docker', ['network', 'rm', name]);
      await rm(directory, { recursive: true, force: true });
    }
  });
});
