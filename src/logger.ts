import { pino, type Logger, type LevelWithSilent } from 'pino';
import { redactText } from './redact.ts';

export type { Logger };

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export interface LogDestination {
  write(line: string): unknown;
}

/**
 * The pino root logger: JSON lines on stderr (or the given destination). Two
 * layers keep secrets out: pino's own `redact` for fields that are secrets by
 * name, and a destination that scrubs every known secret value from each line,
 * whatever field it ended up in.
 */
export function createLogger(options: { level?: LevelWithSilent; destination?: LogDestination } = {}): Logger {
  const target = options.destination ?? process.stderr;
  return pino(
    {
      name: 'firedrill',
      level: options.level ?? 'info',
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: ['password', '*.password', 'secret', '*.secret', 'token', '*.token', 'env.PGPASSWORD'],
        censor: '[redacted]',
      },
    },
    {
      write: (line: string) => {
        // Logging must never be what breaks a drill (a closed stderr): a line that cannot be written is dropped.
        try {
          target.write(redactText(line));
        } catch {
          // dropped
        }
      },
    },
  );
}

/** A logger that drops everything, for library callers that pass none. */
export const silentLogger: Logger = pino({ level: 'silent' });
