import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Reporter } from '../interfaces.ts';
import type { Report } from './report.ts';
import { redactText } from '../redact.ts';
import { writeFileAtomically } from '../atomic-file.ts';
import type { DrillState } from './drill-metrics.ts';
import { readHistory } from './history.ts';

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
    await writeFileAtomically(path, `${renderReportJson(report)}\n`, { mode: 0o640 });
  }
}

/** The report as JSON, with any secret that slipped into a message scrubbed. */
export function renderReportJson(report: Report | Report[]): string {
  return redactText(JSON.stringify(report, null, 2));
}

/** The newest report of a drill, or undefined when it never ran (or its reports are unreadable). */
export async function readLatestReport(directory: string, drill: string): Promise<Report | undefined> {
  for await (const report of readHistory({ reportsDirectory: directory }, drill).reports) return report;
  return undefined;
}

/**
 * Every drill with reports in `directory`: its newest report and its newest
 * one that passed, reading newest first and stopping at the first that
 * passed, so years of reports cost one read per run since the last success.
 */
export async function readDrillStates(directory: string): Promise<DrillState[]> {
  let drills: string[];
  try {
    drills = (await readdir(directory, { withFileTypes: true })).filter((entry) => entry.isDirectory()).map((entry) => entry.name).sort();
  } catch {
    return [];
  }
  const states: DrillState[] = [];
  for (const drill of drills) {
    let latest: Report | undefined;
    let lastPassed: Report | undefined;
    for await (const report of readHistory({ reportsDirectory: directory }, drill).reports) {
      latest ??= report;
      if (report.status !== 'passed') continue;
      lastPassed = report;
      break;
    }
    if (latest) states.push({ latest, lastPassed });
  }
  return states;
}
