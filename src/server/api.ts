import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Report } from '../report/report.ts';
import { findRunInDrills, readRecentReports } from '../report/history.ts';
import { renderReportJson } from '../report/json-file-reporter.ts';
import { isId } from '../drill/ids.ts';
import { NAME_PATTERN } from '../config/common.ts';
import { authorize } from './auth.ts';
import { sendError, sendJson, send } from './respond.ts';
import { activeRun, historyCandidates, readOverview, type DrillOverview, type ServerContext } from './server-context.ts';

/**
 * The JSON API. Errors are `{ "error": "<what, and what to do>" }`. Runs are
 * listed as summaries; `GET /api/runs/:id` gives a whole report.
 */

export const DEFAULT_RUNS_LIMIT = 20;
export const MAX_RUNS_LIMIT = 200;

/** A run in lists: enough to judge it and find it, not the whole report. */
export function runSummary(report: Report) {
  return {
    runId: report.runId,
    drill: report.drill,
    status: report.status,
    startedAt: report.startedAt,
    finishedAt: report.finishedAt,
    durationMs: report.durationMs,
    rtoSeconds: report.measured.rtoSeconds,
    rpoSeconds: report.measured.rpoSeconds,
    summary: report.summary,
    links: { report: runLink(report.runId), html: reportPageLink(report.drill, report.runId) },
  };
}

export function runLink(runId: string): string {
  return `/api/runs/${encodeURIComponent(runId)}`;
}

export function reportPageLink(drill: string, runId: string): string {
  return `/reports/${encodeURIComponent(drill)}/${encodeURIComponent(runId)}.html`;
}

export function drillJson({ drill, scheduled, recent, problems }: DrillOverview) {
  const latest = recent[0];
  return {
    name: drill.name,
    description: drill.description ?? null,
    schedule: scheduled?.schedule ?? drill.schedule ?? null,
    timezone: scheduled?.timezone ?? drill.timezone ?? null,
    nextRunAt: scheduled?.nextRunAt?.toISOString() ?? null,
    activity: scheduled?.activity ?? 'idle',
    runId: scheduled?.activity === 'idle' ? null : (scheduled?.runId ?? null),
    objectives: {
      rtoSeconds: drill.objectives.rto === undefined ? null : drill.objectives.rto / 1000,
      rpoSeconds: drill.objectives.rpo === undefined ? null : drill.objectives.rpo / 1000,
    },
    lastRun: latest ? runSummary(latest) : null,
    problems,
  };
}

export async function listDrills(context: ServerContext, response: ServerResponse): Promise<void> {
  const overview = await readOverview(context, 1);
  sendJson(response, 200, { drills: overview.map(drillJson) });
}

export async function listRuns(context: ServerContext, response: ServerResponse, name: string, query: URLSearchParams): Promise<void> {
  const drill = context.findDrill(name);
  if (!drill) return sendError(response, 404, unknownDrill(name));
  const limit = parseLimit(query.get('limit'));
  if (limit === undefined) return sendError(response, 400, `limit must be a whole number from 1 to ${MAX_RUNS_LIMIT}; leave it out for the newest ${DEFAULT_RUNS_LIMIT} runs`);
  const sources = context.sourcesFor(drill);
  const { reports, problems } = await readRecentReports(sources, drill.name, limit);
  sendJson(response, 200, { drill: drill.name, runs: reports.map(runSummary), problems: [...sources.problems, ...problems] });
}

/** `null` (no limit given) is the default; above the maximum is the maximum; anything else that is not a positive integer is undefined. */
export function parseLimit(text: string | null): number | undefined {
  if (text === null) return DEFAULT_RUNS_LIMIT;
  if (!/^\d{1,9}$/.test(text)) return undefined;
  const limit = Number(text);
  return limit < 1 ? undefined : Math.min(limit, MAX_RUNS_LIMIT);
}

export async function getRun(context: ServerContext, response: ServerResponse, runId: string): Promise<void> {
  if (!isId(runId)) return sendError(response, 404, 'that is not a run id (like 20261126T031500Z-3f9a1c); GET /api/drills/<name>/runs lists them');
  const active = activeRun(context.scheduler, runId);
  if (active) return sendJson(response, 200, { runId, drill: active.drill, status: active.activity });
  const { found, problems } = await findRunInDrills(historyCandidates(context), runId);
  if (!found) {
    const why = problems.length > 0 ? ` (and: ${problems.join('; ')})` : '';
    return sendError(response, 404, `no configured drill has a report of run ${runId}${why}; GET /api/drills/<name>/runs lists run ids`);
  }
  send(response, 200, 'application/json; charset=utf-8', `${renderReportJson(found.report)}\n`);
}

/** `POST /api/drills/:name/run`. The token is checked before anything says whether the drill exists. */
export async function requestRun(context: ServerContext, request: IncomingMessage, response: ServerResponse, name: string): Promise<void> {
  const authorization = authorize(request.headers.authorization, context.token);
  switch (authorization.result) {
    case 'disabled':
      return sendError(response, 403, 'on-demand runs over HTTP are disabled: set server.token in config/firedrill.yaml');
    case 'missing':
      return sendError(response, 401, 'this needs the token of server.token, sent as the header "Authorization: Bearer <token>"', { 'WWW-Authenticate': 'Bearer realm="firedrill"' });
    case 'wrong token':
      context.logger.warn({ remoteAddress: request.socket.remoteAddress }, 'refused an on-demand run over HTTP: the bearer token is wrong');
      return sendError(response, 403, 'the bearer token is not the one configured in server.token; send that one');
    case 'allowed':
      break;
  }
  const drill = context.findDrill(name);
  if (!drill) return sendError(response, 404, unknownDrill(name));
  const outcome = await context.scheduler.requestRun(drill.name);
  switch (outcome.outcome) {
    case 'accepted': {
      context.logger.info({ drill: drill.name, runId: outcome.runId, queued: outcome.queued }, 'on-demand run requested over HTTP');
      const links = { run: runLink(outcome.runId) };
      return sendJson(response, 202, { runId: outcome.runId, drill: drill.name, queued: outcome.queued, links }, { Location: links.run });
    }
    case 'unknown drill':
      return sendError(response, 404, unknownDrill(name));
    case 'already running':
      return sendError(response, 409, alreadyRunning(context, drill.name, outcome));
    case 'shutting down':
      return sendError(response, 503, 'firedrill is shutting down and starts no new runs; ask again once it is back, or ask another replica');
    case 'unavailable':
      return sendError(response, 503, `cannot start the run: ${outcome.reason}; check coordination.postgres and ask again`);
  }
}

function alreadyRunning(context: ServerContext, drill: string, outcome: { runId: string | undefined; where: 'here' | 'another replica' }): string {
  const run = outcome.runId === undefined ? '' : ` (run ${outcome.runId})`;
  if (outcome.where === 'another replica') return `drill "${drill}" is running on another replica${run}; ask again once it has finished`;
  const activity = context.scheduler.drills().find((entry) => entry.drill === drill)?.activity === 'queued' ? 'queued' : 'running';
  const follow = outcome.runId === undefined ? '' : `; follow it at ${runLink(outcome.runId)}`;
  return `drill "${drill}" is already ${activity} here${run}${follow}, and ask again once it has finished`;
}

function unknownDrill(name: string): string {
  // Only a plausible name is repeated back: whatever else was in the path stays out of the answer.
  const shown = NAME_PATTERN.test(name) ? `"${name}"` : 'by that name';
  return `no drill ${shown} is configured; GET /api/drills lists the drills`;
}
