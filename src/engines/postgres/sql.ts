/** Quoting for the few statements firedrill builds itself (identifiers and literals it cannot pass as parameters). */

export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

export function quoteLiteral(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}
