#!/usr/bin/env node
import { main } from './main.ts';
import { EXIT } from './exit-codes.ts';
import { redactText } from '../redact.ts';

// A reader that went away (`firedrill run x | head`, a closed terminal) must not crash firedrill in the middle
// of a drill: the drill still finishes, cleans up and writes its report; only the lost output is dropped.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
  });
}
// A crash is firedrill's own bug, not a failed drill: exit 2, never 1.
process.on('uncaughtException', (error) => {
  try {
    process.stderr.write(redactText(`firedrill: internal error: ${error.stack ?? String(error)}\n`));
  } finally {
    process.exit(EXIT.ERROR);
  }
});

// Node ends a process whose top-level await can never settle (nothing left to wait for) with status 13. That is a
// bug of firedrill's, never a drill's verdict: said, and exit 2, as the exit codes promise.
process.on('exit', (status) => {
  if (status !== 13) return;
  process.stderr.write('firedrill: internal error: the command stopped with work still pending and nothing left to wait for; please report it\n');
  process.exitCode = EXIT.ERROR;
});

const code = await main(process.argv);
process.exitCode = code;
// Everything firedrill starts is released before main() returns, so the process ends by itself. Should a
// library handle linger anyway, a scheduled job must still end: give it a moment, then exit.
setTimeout(() => {
  process.stderr.write('firedrill: something kept the process alive after the command finished; exiting\n');
  process.exit(code);
}, 5_000).unref();
