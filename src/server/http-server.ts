import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { DrillConfig, RunnerConfig } from '../config/load.ts';
import type { SchedulerView } from '../interfaces.ts';
import type { Logger } from '../logger.ts';
import type { Secret } from '../secret.ts';
import { ConfigError, errorMessage } from '../errors.ts';
import { matchRoute, type Route } from './routes.ts';
import { send, sendError, sendJson, sendPage } from './respond.ts';
import { createServerContext, readOverview, type ServerContext } from './server-context.ts';
import { getRun, listDrills, listRuns, requestRun } from './api.ts';
import { reportPage } from './report-pages.ts';
import { DASHBOARD_TREND_RUNS, renderDashboard } from './dashboard.ts';
import { createMetricsSource, type MetricsSource } from './metrics.ts';

/**
 * The HTTP side of `firedrill serve`: the dashboard, the JSON API, run
 * reports as HTML, /metrics for Prometheus and the health checks. Plain
 * node:http; routes are in routes.ts, each concern in its own file.
 */

export interface HttpServerOptions {
  host: string;
  /** 0 picks a free port; `port` of the started server says which. */
  port: number;
  /** server.token: what POST /api/drills/:name/run requires. (Default: none: on-demand runs over HTTP are disabled) */
  token: Secret | undefined;
  scheduler: SchedulerView;
  runner: RunnerConfig;
  /** The configured drills now: a function, since a reload (SIGHUP) replaces the list. */
  drills: () => DrillConfig[];
  logger: Logger;
}

export interface StartedHttpServer {
  /** `http://127.0.0.1:9750`. */
  url: string;
  port: number;
  /** Stops accepting, lets requests in flight finish (up to CLOSE_GRACE_MS), closes idle keep-alive connections. Safe to call twice. */
  close(): Promise<void>;
}

/** Requests carry no body worth reading (POST .../run needs none): anything larger is refused, anything smaller discarded. */
export const MAX_BODY_BYTES = 64 * 1024;
/** How long `close()` waits for requests in flight before it cuts their connections. */
export const CLOSE_GRACE_MS = 5_000;

export async function startHttpServer(options: HttpServerOptions): Promise<StartedHttpServer> {
  const logger = options.logger.child({ component: 'http' });
  const context = createServerContext({ scheduler: options.scheduler, runner: options.runner, drills: options.drills, logger, token: options.token });
  const metrics = createMetricsSource(context);
  // Slow or idle clients are not allowed to hold connections open for long: nothing here takes minutes to answer.
  const server = createServer({ headersTimeout: 10_000, requestTimeout: 30_000, keepAliveTimeout: 5_000 }, (request, response) => {
    void handle(context, metrics, request, response);
  });
  await listen(server, options, context.runner.file);
  const { address, port } = server.address() as AddressInfo;
  const url = `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
  logger.info({ url }, 'serving the dashboard, the API and /metrics');

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= new Promise<void>((resolve, reject) => {
      const cut = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS).unref();
      server.close((error) => {
        clearTimeout(cut);
        if (error) reject(error);
        else resolve();
      });
      server.closeIdleConnections();
    }));
  return { url, port, close };
}

async function listen(server: Server, options: HttpServerOptions, configFile: string | undefined): Promise<void> {
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? errorMessage(error);
    const why = code === 'EADDRINUSE' ? 'the port is in use; stop what uses it or set another server.port' : `${code}; check server.host and server.port`;
    throw new ConfigError([{ file: configFile ?? 'config', path: 'server', message: `cannot listen on ${options.host}:${options.port}: ${why}` }], { cause: error });
  }
}

async function handle(context: ServerContext, metrics: MetricsSource, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const started = performance.now();
  const method = request.method ?? 'GET';
  let path = '';
  // The path only: never the query string, never a header (the Authorization header holds the token).
  response.once('close', () => {
    context.logger.debug({ method, path, status: response.statusCode, durationMs: Math.round(performance.now() - started) }, 'http request');
  });
  try {
    // The request target as sent, not resolved as a URL: `//host/x` stays a path, and `..` stays a segment no route has.
    const target = request.url ?? '/';
    const queryAt = target.indexOf('?');
    path = queryAt === -1 ? target : target.slice(0, queryAt);
    const query = new URLSearchParams(queryAt === -1 ? '' : target.slice(queryAt + 1));
    if (!discardBody(request, response)) return;
    const match = matchRoute(method, path);
    if (match.kind === 'not found') return sendError(response, 404, 'there is nothing at this path; GET / is the dashboard and GET /api/drills lists the drills');
    if (match.kind === 'method not allowed') return sendError(response, 405, `this path answers ${match.allow.join(' and ')} only`, { Allow: match.allow.join(', ') });
    await dispatch(context, metrics, match.route, request, response, query);
  } catch (error) {
    context.logger.error({ method, path, error: errorMessage(error) }, 'the HTTP server failed to answer a request');
    if (!response.headersSent) sendError(response, 500, 'firedrill failed to answer this request; its log says why');
    else response.destroy();
  }
}

async function dispatch(context: ServerContext, metrics: MetricsSource, route: Route, request: IncomingMessage, response: ServerResponse, query: URLSearchParams): Promise<void> {
  switch (route.name) {
    case 'health':
      return sendJson(response, 200, { status: 'ok' });
    case 'ready':
      return context.scheduler.ready
        ? sendJson(response, 200, { status: 'ready' })
        : sendJson(response, 503, { status: 'not ready', error: 'the scheduler is not ready yet (loading its config or scheduling its drills); ask again shortly' });
    case 'metrics': {
      const { contentType, text } = await metrics.scrape();
      return send(response, 200, contentType, text);
    }
    case 'dashboard': {
      const drills = await readOverview(context, DASHBOARD_TREND_RUNS);
      const { scheduler } = context;
      return sendPage(response, 200, renderDashboard({ drills, ready: scheduler.ready, runningCount: scheduler.runningCount(), queueLength: scheduler.queueLength(), now: new Date() }));
    }
    case 'report page':
      return reportPage(context, response, route.drill, route.run);
    case 'drills':
      return listDrills(context, response);
    case 'drill runs':
      return listRuns(context, response, route.drill, query);
    case 'run':
      return getRun(context, response, route.runId);
    case 'request run':
      return requestRun(context, request, response, route.drill);
  }
}

/** Refuses a body declared too large (413); reads and drops any other, cutting the connection once it grows past the limit. */
function discardBody(request: IncomingMessage, response: ServerResponse): boolean {
  const declared = Number(request.headers['content-length'] ?? 0);
  if (declared > MAX_BODY_BYTES) {
    sendError(response, 413, `requests here carry no body; this one declares ${declared} bytes (at most ${MAX_BODY_BYTES} are accepted)`, { Connection: 'close' });
    return false;
  }
  let received = 0;
  request.on('data', (chunk: Buffer) => {
    received += chunk.length;
    if (received > MAX_BODY_BYTES) request.destroy();
  });
  return true;
}
