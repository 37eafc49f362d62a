import { resolve } from 'node:path';
import type { Output } from '../output.ts';
import { renderTable } from '../output.ts';
import { openSession, selectValidDrills, type GlobalOptions } from '../session.ts';
import { runGameday, type DefectResult, type GamedayReport } from '../../gameday/gameday.ts';
import { EXIT } from '../exit-codes.ts';
import { writeFileAtomically } from '../../atomic-file.ts';
import { renderGamedayHtml } from '../../report/gameday-html.ts';
import { errorMessage } from '../../errors.ts';
import type { DrillConfig } from '../../config/load.ts';

export interface GamedayFlags {
  json?: boolean;
  backup?: string;
  html?: string;
}

/**
 * `firedrill gameday <drill>`: the drill against damaged copies of its latest
 * backup. Exit 0 only when every defect that applies was caught, 1 when one
 * was not (each is a finding with what to change), 2 when the gameday could
 * not run.
 */
export async function gamedayCommand(name: string, flags: GamedayFlags, global: GlobalOptions, output: Output, signal: AbortSignal): Promise<number> {
  // Restoring needs the repository's secrets (an age identity), never the source's: nothing here touches the source.
  const { runner, logger, loaded } = await openSession(global, { resolveSecrets: false, defaultLogLevel: 'warn' });
  const [drill] = selectValidDrills(loaded, [name]) as [DrillConfig];
  if (!flags.json) output.out(`gameday ${drill.name}: drilling damaged copies of backup ${flags.backup ?? 'latest'} (the backup itself is only read)`);
  const report = await runGameday(drill, {
    runner,
    logger,
    signal,
    backup: flags.backup,
    onResult: flags.json ? undefined : (result) => output.out(`  ${result.id}: ${verdict(result)}`),
  });
  if (flags.json) output.out(JSON.stringify(report, null, 2));
  else output.out(`\n${renderGameday(report)}`);
  if (flags.html) {
    const path = resolve(runner.cwd, flags.html);
    try {
      await writeFileAtomically(path, renderGamedayHtml(report), { mode: 0o640 });
      if (!flags.json) output.out(`\nHTML report: ${path}`);
    } catch (error) {
      // Like any report, one that cannot be written is said and changes no outcome.
      output.err(`firedrill: could not write the gameday's HTML report ${path}: ${errorMessage(error)}`);
    }
  }
  const { caught, applicable, inconclusive } = report.score;
  // Inconclusive results say nothing about the drill: they alone are an error (2), not a finding (1).
  if (caught + inconclusive < applicable) return EXIT.FAILED;
  return inconclusive > 0 ? EXIT.ERROR : EXIT.PASSED;
}

function verdict(result: DefectResult): string {
  if (!result.applicable) return `not applicable (${result.notApplicableBecause})`;
  if (result.inconclusive) return `inconclusive: ${shorten(result.suggestion ?? '')}`;
  return result.caught ? `caught by ${shorten(result.caughtBy ?? '')}` : 'NOT CAUGHT (the drill passed)';
}

/** The terminal's copy of a long message; --json has it whole. */
function shorten(text: string): string {
  return text.length > 110 ? `${text.slice(0, 109)}…` : text;
}

export function renderGameday(report: GamedayReport): string {
  const rows = report.defects.map((result) => [
    result.id,
    !result.applicable ? 'n/a' : result.inconclusive ? 'inconclusive' : result.caught ? 'caught' : 'NOT CAUGHT',
    result.description,
    !result.applicable ? (result.notApplicableBecause ?? '') : result.inconclusive ? shorten(result.suggestion ?? '') : shorten(result.caughtBy ?? '-'),
  ]);
  const { caught, applicable, inconclusive } = report.score;
  const lines = [
    `drill ${report.drill}, backup ${report.backupId}: ${caught} of ${applicable} defects caught${inconclusive > 0 ? ` (${inconclusive} inconclusive: run the gameday again)` : ''}`,
    '',
    renderTable(['DEFECT', 'RESULT', 'WHAT WAS BROKEN', 'CAUGHT BY'], rows, '  '),
  ];
  const findings = report.defects.filter((result) => result.applicable && !result.caught && !result.inconclusive);
  if (findings.length > 0) {
    lines.push('', 'findings:');
    for (const finding of findings) lines.push(`  ${finding.id}: ${finding.suggestion}`);
  }
  return lines.join('\n');
}
