#!/usr/bin/env node
import { main } from './main.ts';

const code = await main(process.argv);
process.exitCode = code;
// Everything firedrill starts is released before main() returns, so the process ends by itself. Should a
// library handle linger anyway, a scheduled job must still end: give it a moment, then exit.
setTimeout(() => {
  process.stderr.write('firedrill: something kept the process alive after the command finished; exiting\n');
  process.exit(code);
}, 5_000).unref();
