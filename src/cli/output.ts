import { formatBytes } from '../format-bytes.ts';
import { redactText } from '../redact.ts';

/** Human output: plain aligned tables on stdout, always through the redactor. */

export interface Output {
  out(text: string): void;
  err(text: string): void;
  /**
   * Stdout without the redactor, for the one thing a person explicitly asked
   * to see: the connection URL of a sandbox kept with `restore --keep`, whose
   * throwaway password is otherwise redacted like every secret.
   */
  reveal(text: string): void;
}

export const processOutput: Output = {
  out: (text) => process.stdout.write(`${redactText(text)}\n`),
  err: (text) => process.stderr.write(`${redactText(text)}\n`),
  reveal: (text) => process.stdout.write(`${text}\n`),
};

/** Columns padded to their widest cell; the last column is never padded, so long messages simply run on. */
export function renderTable(headers: string[], rows: string[][], indent = ''): string {
  const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: string[]) =>
    indent +
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

export { formatBytes };

/** `2026-11-26 03:15:02Z`: compact, sortable, unambiguous. */
export function formatTime(iso: string | Date): string {
  const date = typeof iso === 'string' ? new Date(iso) : iso;
  return `${date.toISOString().slice(0, 19).replace('T', ' ')}Z`;
}
