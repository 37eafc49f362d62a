import type { Registry } from 'prom-client';
import { UsageError } from '../errors.ts';
import { writeFileAtomically } from '../atomic-file.ts';
import { drillMetricsRegistry, type DrillState } from './drill-metrics.ts';

/**
 * Where CLI runs put their metrics: a node_exporter textfile (written to a
 * temporary name and renamed, so the collector never reads half a file), or
 * a Prometheus Pushgateway (one group per drill, replaced on each push).
 */

export async function writeMetricsFile(path: string, registry: Registry): Promise<void> {
  await writeFileAtomically(path, await registry.metrics(), { mode: 0o644 });
}

/** A Pushgateway URL without credentials: they would sit on a command line, in shell history and in `ps`. */
export function checkPushgatewayUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`--pushgateway "${text}" is not a URL; expected e.g. http://pushgateway:9091`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--pushgateway must be an http or https URL, not ${url.protocol}`);
  if (url.username || url.password) {
    throw new UsageError('--pushgateway must not hold credentials (they would show in the process list); put the Pushgateway behind a network boundary instead');
  }
  return url;
}

const PUSH_TIMEOUT_MS = 10_000;

/** Replaces each drill's group (`job="firedrill", drill="<name>"`) with its current metrics. */
export async function pushMetrics(url: URL, states: DrillState[]): Promise<void> {
  for (const state of states) {
    const registry = drillMetricsRegistry([state]);
    const target = new URL(`metrics/job/firedrill/drill/${encodeURIComponent(state.latest.drill)}`, url.href.endsWith('/') ? url : `${url.href}/`);
    let response: Response;
    try {
      response = await fetch(target, {
        method: 'PUT',
        headers: { 'content-type': registry.contentType },
        body: await registry.metrics(),
        signal: AbortSignal.timeout(PUSH_TIMEOUT_MS),
      });
    } catch (error) {
      throw new Error(`cannot push metrics of drill "${state.latest.drill}" to ${url.origin}: ${(error as Error).message}`, { cause: error });
    }
    if (!response.ok) {
      const body = (await response.text().catch(() => '')).slice(0, 200);
      throw new Error(`the Pushgateway at ${url.origin} answered ${response.status} ${response.statusText} for drill "${state.latest.drill}"${body ? `: ${body}` : ''}`);
    }
  }
}
