import { Command, CommanderError, Option } from 'commander';
import { FIREDRILL_VERSION } from '../version.ts';
import { AbortedError, ConfigError, FiredrillError, errorMessage } from '../errors.ts';
import { LOG_LEVELS } from '../logger.ts';
import { DEFAULT_CONFIG_PATH, DEFAULT_DRILLS_DIRECTORY } from '../config/load.ts';
import { processOutput, type Output } from './output.ts';
import { EXIT } from './exit-codes.ts';
import type { GlobalOptions } from './session.ts';
import { runCommand, type RunFlags } from './commands/run.ts';
import { validateCommand } from './commands/validate.ts';
import { listCommand } from './commands/list.ts';
import { backupsCommand } from './commands/backups.ts';
import { demoCommand } from './commands/demo.ts';
import { schemaCommand } from './commands/schema.ts';
import { restoreCommand, type RestoreFlags } from './commands/restore.ts';
import { sandboxListCommand, sandboxRemoveCommand } from './commands/sandbox.ts';
import { cleanupCommand, type CleanupFlags } from './commands/cleanup.ts';
import { repairCommand } from './commands/repair.ts';
import { pruneCommand, type PruneFlags } from './commands/prune.ts';
import { historyCommand, type HistoryFlags } from './commands/history.ts';
import { reportCommand, type ReportFlags } from './commands/report.ts';
import { serveCommand } from './commands/serve.ts';
import { gamedayCommand, type GamedayFlags } from './commands/gameday.ts';

/**
 * The command line: parses arguments, calls the library, prints, and exits.
 * The only place that writes for humans or calls process.exit. Exit codes:
 * 0 all passed, 1 a drill failed, 2 config, usage or infrastructure error.
 */

export async function main(argv: string[], output: Output = processOutput): Promise<number> {
  const abort = new AbortController();
  const stopOnSignal = (signal: NodeJS.Signals) => {
    if (abort.signal.aborted) {
      output.err(`firedrill: ${signal} again; exiting without waiting for cleanup (run firedrill again later to reap leftovers)`);
      process.exit(EXIT.ERROR);
    }
    output.err(`firedrill: ${signal} received; stopping and cleaning up (send it again to exit at once)`);
    abort.abort(`stopped by ${signal}`);
  };
  process.on('SIGINT', stopOnSignal);
  process.on('SIGTERM', stopOnSignal);

  let exitCode: number = EXIT.PASSED;
  const program = new Command('firedrill')
    .description('Backup and disaster-recovery drills: back up, restore into a throwaway sandbox, verify, and measure RTO and RPO.')
    .version(FIREDRILL_VERSION)
    .option('--config <file>', `runner config (default: ${DEFAULT_CONFIG_PATH}; embedded defaults when absent)`)
    .option('--drills <dir>', `directory of drill files (default: ${DEFAULT_DRILLS_DIRECTORY})`)
    .addOption(new Option('--log-level <level>', 'log level of the JSON logs on stderr').choices(LOG_LEVELS))
    .configureHelp({ showGlobalOptions: true })
    .exitOverride()
    .configureOutput({ writeOut: (text) => output.out(text.trimEnd()), writeErr: (text) => output.err(text.trimEnd()) })
    .showHelpAfterError('(run firedrill --help for usage)');
  const global = () => program.opts<GlobalOptions>();

  program
    .command('run')
    .description('take a backup, restore it into a sandbox and verify it (or drill an existing backup with --from-backup)')
    .argument('[drills...]', 'drill names (file names in the drills directory)')
    .option('--all', 'run every drill')
    .option('--json', 'print the report JSON on stdout (an array for several drills)')
    .option('--from-backup <id>', 'drill an existing backup ("latest" or a backup id) without taking a new one')
    .option('--junit <file>', 'also write the results as JUnit XML (one test suite per drill) for CI')
    .option('--metrics-file <file>', 'also write Prometheus metrics of every drill with reports, in the node_exporter textfile format (use a .prom name)')
    .option('--pushgateway <url>', 'also push the metrics of the drills run to a Prometheus Pushgateway (job "firedrill", one group per drill)')
    .action(async (names: string[], flags: RunFlags) => {
      exitCode = await runCommand(names, flags, global(), output, abort.signal);
    });
  program
    .command('validate')
    .description('check the config and every drill file, reporting every problem')
    .action(async () => {
      exitCode = await validateCommand(global(), output);
    });
  program
    .command('list')
    .description('list drills with their schedule and last result')
    .action(async () => {
      exitCode = await listCommand(global(), output);
    });
  program
    .command('backups')
    .description("list a drill's backups, newest first")
    .argument('<drill>', 'drill name')
    .option('--json', 'print JSON')
    .action(async (name: string, flags: { json?: boolean }) => {
      exitCode = await backupsCommand(name, flags, global(), output);
    });
  program
    .command('history')
    .description("a drill's runs, newest first (this machine's and those kept in its repository), with RTO regressions flagged")
    .argument('<drill>', 'drill name')
    .option('--last <n>', 'how many runs to show', '20')
    .option('--json', 'print JSON')
    .action(async (name: string, flags: HistoryFlags) => {
      exitCode = await historyCommand(name, flags, global(), output);
    });
  program
    .command('report')
    .description("render a run's self-contained HTML report (written next to its JSON report unless --out says otherwise)")
    .argument('<run>', 'a run id (see firedrill history <drill>), or "latest"')
    .option('--drill <name>', 'the drill (for "latest": its newest run rather than the newest of all drills)')
    .option('--out <file>', 'write the HTML here ("-" for stdout)')
    .option('--open', 'open it in the desktop browser')
    .action(async (which: string, flags: ReportFlags) => {
      exitCode = await reportCommand(which, flags, global(), output);
    });
  program
    .command('restore')
    .description('restore a backup into a sandbox (no checks); with --keep, leave it running and print how to connect')
    .argument('<drill>', 'drill name')
    .option('--backup <id>', 'the backup to restore ("latest" or a backup id)', 'latest')
    .option('--keep', 'keep the sandbox running after the restore, for hands-on recovery or investigation')
    .action(async (name: string, flags: RestoreFlags) => {
      exitCode = await restoreCommand(name, flags, global(), output, abort.signal);
    });
  const sandbox = program.command('sandbox').description('list or remove the containers firedrill started (kept sandboxes, leftovers)');
  sandbox
    .command('ls')
    .description('list firedrill containers on the Docker engine')
    .option('--json', 'print JSON')
    .action(async (flags: { json?: boolean }) => {
      exitCode = await sandboxListCommand(flags, output);
    });
  sandbox
    .command('rm')
    .description('remove firedrill containers by id (a prefix is enough), or --all but those of running drills')
    .argument('[ids...]', 'container ids, as `firedrill sandbox ls` shows them')
    .option('--all', 'remove every kept or leftover firedrill container')
    .action(async (ids: string[], flags: { all?: boolean }) => {
      exitCode = await sandboxRemoveCommand(ids, flags, output);
    });
  program
    .command('cleanup')
    .description('remove what crashed runs left behind: containers and local clusters whose firedrill process is gone')
    .option('--older-than <duration>', 'also remove containers older than this whose owner cannot be checked from here (another machine)', '6h')
    .action(async (flags: CleanupFlags) => {
      exitCode = await cleanupCommand(flags, global(), output);
    });
  program
    .command('repair')
    .description('remove incomplete backups whose writer is gone and abort the multipart uploads they left (every backup start does this for its drill)')
    .argument('[drills...]', 'drill names (default: every drill)')
    .action(async (names: string[]) => {
      exitCode = await repairCommand(names, global(), output);
    });
  program
    .command('prune')
    .description("apply the drills' retention policies: show every backup, what happens to it and why")
    .argument('[drills...]', 'drill names (default: every drill)')
    .option('--dry-run', 'show what would be removed, remove nothing')
    .action(async (names: string[], flags: PruneFlags) => {
      exitCode = await pruneCommand(names, flags, global(), output);
    });
  program
    .command('gameday')
    .description("prove the drill would fail: run its restore and checks against damaged copies of its latest backup, and score what it caught")
    .argument('<drill>', 'drill name')
    .option('--backup <id>', 'the backup to damage copies of ("latest" or a backup id)', 'latest')
    .option('--json', 'print the gameday report as JSON')
    .option('--html <file>', 'also write the result as a self-contained HTML page')
    .action(async (name: string, flags: GamedayFlags) => {
      exitCode = await gamedayCommand(name, flags, global(), output, abort.signal);
    });
  program
    .command('serve')
    .description('run drills on their schedules, and serve the dashboard, the API and /metrics (SIGHUP reloads the config, SIGTERM stops)')
    .action(async () => {
      exitCode = await serveCommand(global(), output, abort.signal);
    });
  program
    .command('demo')
    .description('start a throwaway demo database and run the "demo" drill against it, end to end')
    .action(async () => {
      exitCode = await demoCommand(global(), output, abort.signal);
    });

  program
    .command('schema')
    .description('print the JSON Schema of drill files, or write both schemas (config and drill) into a directory')
    .option('--write <dir>', 'write firedrill.schema.json and drill.schema.json into this directory')
    .action(async (flags: { write?: string }) => {
      exitCode = await schemaCommand(flags, output);
    });

  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (error) {
    return reportError(error, output);
  } finally {
    process.off('SIGINT', stopOnSignal);
    process.off('SIGTERM', stopOnSignal);
  }
}

function reportError(error: unknown, output: Output): number {
  if (error instanceof CommanderError) {
    // --help and --version are not errors; everything else commander rejects is a usage error.
    return ['commander.helpDisplayed', 'commander.version', 'commander.help'].includes(error.code) && error.exitCode === 0 ? EXIT.PASSED : EXIT.ERROR;
  }
  if (error instanceof ConfigError) {
    output.err(`firedrill: ${error.message}`);
    return EXIT.ERROR;
  }
  if (error instanceof AbortedError) {
    // Ctrl-C or SIGTERM outside a drill run (which reports it itself): what was started has been released.
    output.err(`firedrill: ${error.message}; everything it had started was removed`);
    return EXIT.ERROR;
  }
  if (error instanceof FiredrillError) {
    output.err(`firedrill: ${error.message}`);
    return error.verdict === 'failed' ? EXIT.FAILED : EXIT.ERROR;
  }
  output.err(`firedrill: unexpected error: ${errorMessage(error)}`);
  if (error instanceof Error && error.stack) output.err(error.stack);
  return EXIT.ERROR;
}
