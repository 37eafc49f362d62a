import { z } from 'zod';
import type { CheckContext, CheckOutcome } from '../interfaces.ts';
import { BaseCheck, commonCheckFields } from './base-check.ts';
import { spawnChild } from '../pipeline/child-process.ts';

export const commandCheckSchema = z
  .strictObject({
    type: z.literal('command').describe('Runs a program in the restored directory (e.g. sqlite3 app.db "pragma integrity_check").'),
    ...commonCheckFields('5m'),
    command: z
      .array(z.string().min(1))
      .min(1)
      .describe(
        'The program and its arguments, as a list: no shell is involved, so quotes and $ are passed as they are. The program is looked up on PATH; ' +
          "it runs with the restored directory as working directory and firedrill's short list of environment variables (no secrets).",
      ),
    expect: z
      .strictObject({
        exitCode: z.int().min(0).max(255).default(0).describe('The exit status it must end with. (Default: 0)'),
        stdout: z
          .string()
          .min(1)
          .refine(isRegularExpression, { error: 'expected a valid regular expression' })
          .optional()
          .describe('A regular expression its standard output must match (multi-line: ^ and $ match at each line), e.g. "^ok$".'),
      })
      .prefault({})
      .describe('What counts as passing.'),
  })
  .describe('Runs a command against the restored files and checks its exit status and output.');

export type CommandCheckConfig = z.output<typeof commandCheckSchema>;

/** Standard output kept for matching; a check's command is a probe, not a data export. */
const STDOUT_LIMIT_BYTES = 1024 * 1024;

function isRegularExpression(pattern: string): boolean {
  try {
    new RegExp(pattern, 'm');
    return true;
  } catch {
    return false;
  }
}

export class CommandCheck extends BaseCheck<CommandCheckConfig> {
  async run(context: CheckContext): Promise<CheckOutcome> {
    const { restored } = context;
    if (restored.kind !== 'files') throw new Error(`target "${this.target}" is not a files target`);
    const [program, ...args] = this.config.command as [string, ...string[]];
    // The timeout and the run's end both abort `signal`: the command is then killed, not waited for.
    const child = spawnChild(program, args, { cwd: restored.directory, stdout: 'pipe', signal: context.signal, ownProcessGroup: true });
    // Kept up to the limit, then no more (a gap in the middle could make the pattern match what was never printed).
    const pieces: Buffer[] = [];
    let kept = 0;
    let truncated = false;
    child.stdout.on('data', (chunk: Buffer) => {
      if (truncated) return;
      if (kept + chunk.length > STDOUT_LIMIT_BYTES) {
        truncated = true;
        pieces.push(chunk.subarray(0, STDOUT_LIMIT_BYTES - kept));
        kept = STDOUT_LIMIT_BYTES;
        return;
      }
      pieces.push(chunk);
      kept += chunk.length;
    });
    const exit = await child.succeeded.then(
      () => ({ code: 0, signal: null as NodeJS.Signals | null, error: undefined as string | undefined }),
      (error: { exitCode?: number | null; exitSignal?: NodeJS.Signals | null; message: string }) => ({
        code: error.exitCode ?? null,
        signal: error.exitSignal ?? null,
        error: error.message,
      }),
    );
    const stdout = Buffer.concat(pieces).toString('utf8');
    const shown = this.config.command.join(' ');
    if (exit.code === null) {
      // Never started (not found, not executable), or killed.
      const why = exit.signal ? `was killed by ${exit.signal}` : `could not be started (${exit.error ?? 'unknown reason'}); is ${program} installed and on PATH?`;
      return { status: 'failed', message: `${shown} ${why}`, details: { exitSignal: exit.signal } };
    }
    const expected = this.config.expect;
    const details = { exitCode: exit.code, stdoutBytes: kept, stdoutTruncated: truncated };
    if (exit.code !== expected.exitCode) {
      // Its last stderr lines say why; stdout may be data and stays out of the report.
      const stderr = child.stderrTail().trim().split('\n').slice(-3).join(' | ').slice(0, 300);
      return { status: 'failed', message: `${shown} exited with status ${exit.code}, expected ${expected.exitCode}${stderr ? `: ${stderr}` : ''}`, details };
    }
    if (expected.stdout !== undefined && !new RegExp(expected.stdout, 'm').test(stdout)) {
      return { status: 'failed', message: `the output of ${shown} does not match /${expected.stdout}/ (${details.stdoutBytes} bytes of output)`, details };
    }
    const matched = expected.stdout === undefined ? '' : `, output matches /${expected.stdout}/`;
    return { status: 'passed', message: `${shown} exited with status ${exit.code}${matched}`, details };
  }
}
