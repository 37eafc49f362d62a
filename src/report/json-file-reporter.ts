import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Reporter } from '../interfaces.ts';
import type { Report } from './report.ts';
import { redactText } from '../redact.ts';

/**
 * Reports as JSON files: `<dir>/<drill>/<runId>.json`, written to a temporary
 * name and renamed, so a reader never sees half a report. Run ids sort by
 * time, so the newest report is the last file name.
 */
export class JsonFileReporter implements Reporter {
  readonly name = 'json-file';
  readonly directory: string;

  constructor(directory: string) {
    this.directory = directory;
  }

  pathFor(report: Report): string {
    return join(this.directory, report.drill, `${report.runId}.json`);
  }

  async publish(report: Report): Promise<void> {
    const path = this.pathFor(report);
    await mkdir(join(this.directory, report.drill), { recursive: true });
    await writeFile(`${path}.tmp`, `${renderReportJson(report)}\n`, { mode: 0o640 });
    await rename(`${path}.tmp`, path);
  }
}

/** The report as JSON, with any secret that slipped into a message scrubbed. */
export function renderReportJson(report: Report | Report[]): string {
  return redactText(JSON.stringify(report, null, 2));
}

/** The newest report of a drill, or undefined when it never ran (or its reports are unreadable). */
export async function readLatestReport(directory: string, drill: string): Promise<Report | undefined> {
  let names: string[];
  try {
    names = (await readdir(join(directory, drill))).filter((name) => name.endsWith('.json')).sort();
  } catch {
    return undefined;
  }
  for (const name of names.reverse()) {
    try {
      return JSON.parse(await readFile(join(directory, drill, name), 'utf8')) as Report;
    } catch {
      // a report damaged by hand: try the one before
    }
  }
  return undefined;
}

/** Drills that have reports in `directory`, by name. */
export async function listReportedDrills(directory: string): Promise<string[]> {
  try {
    return (await readdir(directory, { withFileTypes: true }))
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name)
      .sort();
  } catch {
    return [];
  }
}

/**
 * A drill's newest report and its newest one that passed, reading newest
 * first and stopping at the first that passed: years of reports cost one
 * read per run since the last success. Unreadable reports are skipped.
 */
export async function readDrillState(directory: string, drill: string): Promise<{ latest: Report; lastPassed?: Report } | undefined> {
  let names: string[];
  try {
    names = (await readdir(join(directory, drill))).filter((name) => name.endsWith('.json')).sort().reverse();
  } catch {
    return undefined;
  }
  let latest: Report | undefined;
  for (const name of names) {
    let report: Report;
    try {
      report = JSON.parse(await readFile(join(directory, drill, name), 'utf8')) as Report;
    } catch {
      continue;
    }
    latest ??= report;
    if (report.status === 'passed') return { latest, lastPassed: report };
  }
  return latest ? { latest } : undefined;
}
