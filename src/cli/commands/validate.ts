import type { Output } from '../output.ts';
import { openSession, type GlobalOptions } from '../session.ts';
import { formatConfigProblem } from '../../errors.ts';
import { EXIT } from '../exit-codes.ts';

/** `firedrill validate`: the runner config and every drill file, every problem at once, secrets resolved. */
export async function validateCommand(global: GlobalOptions, output: Output): Promise<number> {
  const { runner, loaded } = await openSession(global, { resolveSecrets: true, defaultLogLevel: 'warn' });
  output.out(`${runner.file ?? 'embedded defaults (no config file)'}: ok`);
  for (const drill of loaded.drills) {
    output.out(`${drill.file}: ok (drill "${drill.name}", ${drill.checks.length} check${drill.checks.length === 1 ? '' : 's'})`);
  }
  const problems = [...loaded.problems.values()].flat();
  for (const problem of problems) output.err(formatConfigProblem(problem));
  if (loaded.drills.length === 0 && problems.length === 0) output.out(`no drill files in ${loaded.directory}`);
  if (problems.length > 0) {
    output.err(`${problems.length} problem${problems.length === 1 ? '' : 's'} found`);
    return EXIT.ERROR;
  }
  return EXIT.PASSED;
}
