/** Words that stand where a role name would, but are none: `TO PUBLIC`, `OWNER TO CURRENT_USER`, `SET ROLE NONE`. */
const NOT_ROLE_NAMES = new Set(['PUBLIC', 'CURRENT_USER', 'CURRENT_ROLE', 'SESSION_USER', 'USER', 'NONE', 'DEFAULT', 'ALL']);

/** A piece of a statement as SqlRoleScanner splits it. */
export interface Token {
  /** word: a keyword or unquoted name; quoted: a "quoted" name; string: a literal's content; long: too long to be a name. */
  kind: 'word' | 'quoted' | 'string' | 'symbol' | 'long';
  text: string;
  /** Parentheses around it: a role list is never inside any. */
  depth: number;
}

/**
 * The roles one statement names, in the forms pg_dump writes (and pg_dumpall,
 * and hand-written SQL, where cheap):
 * `ALTER ... OWNER TO x`, `GRANT ... ON ... TO x, y [WITH GRANT OPTION] [GRANTED BY z]`,
 * `REVOKE ... FROM x`, `GRANT role TO x` (membership), `ALTER DEFAULT PRIVILEGES FOR ROLE x ...`,
 * `CREATE POLICY ... TO x, y`, `SET SESSION AUTHORIZATION x`, `SET ROLE x`,
 * `CREATE USER MAPPING FOR x`, `ALTER ROLE x IN DATABASE ...`.
 */
export class StatementRoles {
  readonly #tokens: Token[];
  readonly #complete: boolean;
  readonly #found: string[] = [];

  constructor(tokens: Token[], complete: boolean) {
    this.#tokens = tokens;
    this.#complete = complete;
  }

  roles(): string[] {
    const tokens = this.#tokens;
    const verb = tokens[0]!.text.toUpperCase();
    if (verb === 'GRANT' || verb === 'REVOKE') this.#grantOrRevoke(0);
    else if (verb === 'ALTER') this.#alter();
    else if (verb === 'CREATE' && this.#keyword(1, 'POLICY')) this.#policy();
    else if (verb === 'CREATE' && this.#keyword(1, 'USER') && this.#keyword(2, 'MAPPING')) {
      const forIndex = this.#find(3, 'FOR');
      if (forIndex >= 0) this.#roleAt(forIndex + 1);
    } else if (verb === 'SET') this.#setRole();
    return this.#found;
  }

  /** `COPY ... FROM stdin`: row data follows on the next line. */
  startsCopyData(): boolean {
    if (!this.#keyword(0, 'COPY')) return false;
    const from = this.#find(1, 'FROM');
    return from >= 0 && this.#keyword(from + 1, 'STDIN');
  }

  /** `SET standard_conforming_strings = on|off`; undefined for any other statement. */
  standardConformingStrings(): boolean | undefined {
    const index = this.#keyword(1, 'SESSION', 'LOCAL') ? 2 : 1;
    if (!this.#keyword(0, 'SET') || !this.#keyword(index, 'STANDARD_CONFORMING_STRINGS')) return undefined;
    const value = this.#tokens[this.#skipAssignment(index + 1)];
    const setting = value?.text.toLowerCase();
    if (setting === 'on' || setting === 'true') return true;
    if (setting === 'off' || setting === 'false') return false;
    return undefined;
  }

  #grantOrRevoke(start: number): void {
    const granting = this.#keyword(start, 'GRANT');
    const recipients = this.#find(start + 1, granting ? 'TO' : 'FROM');
    if (recipients < 0) return;
    const on = this.#find(start + 1, 'ON');
    if (on < 0 || on > recipients) {
      // Role membership: the granted roles are roles too. REVOKE may start with "ADMIN OPTION FOR".
      const first = !granting && this.#keyword(start + 2, 'OPTION') && this.#keyword(start + 3, 'FOR') ? start + 4 : start + 1;
      this.#roleList(first);
    }
    const after = this.#roleList(recipients + 1);
    const grantedBy = this.#find(after, 'GRANTED');
    if (grantedBy >= 0 && this.#keyword(grantedBy + 1, 'BY')) this.#roleAt(grantedBy + 2);
  }

  #alter(): void {
    const tokens = this.#tokens;
    if (this.#keyword(1, 'DEFAULT') && this.#keyword(2, 'PRIVILEGES')) {
      for (let index = 3; index < tokens.length; index++) {
        if (this.#keyword(index, 'FOR') && this.#keyword(index + 1, 'ROLE', 'USER')) index = this.#roleList(index + 2) - 1;
        else if (this.#keyword(index, 'GRANT', 'REVOKE')) return this.#grantOrRevoke(index);
      }
      return;
    }
    if (this.#keyword(1, 'ROLE', 'USER') && this.#keyword(3, 'IN') && this.#keyword(4, 'DATABASE')) return this.#roleAt(2);
    // Always the statement's end in pg_dump's SQL; RENAME ... owner TO x renames a column called owner.
    const last = tokens.length - 1;
    if (this.#complete && last >= 3 && this.#keyword(last - 2, 'OWNER') && this.#keyword(last - 1, 'TO') && this.#find(1, 'RENAME') < 0) this.#roleAt(last);
  }

  /** CREATE POLICY name ON table [AS ...] [FOR command] [TO roles] [USING (...)] [WITH CHECK (...)] */
  #policy(): void {
    const on = this.#find(2, 'ON');
    if (on < 0) return;
    for (let index = on + 1; index < this.#tokens.length; index++) {
      if (this.#keyword(index, 'USING', 'WITH')) return;
      if (this.#keyword(index, 'TO')) {
        this.#roleList(index + 1);
        return;
      }
    }
  }

  /** SET [SESSION | LOCAL] ROLE x, SET [SESSION | LOCAL] SESSION AUTHORIZATION x: x may be a string literal. */
  #setRole(): void {
    const index = this.#keyword(1, 'SESSION', 'LOCAL') && !this.#keyword(2, 'AUTHORIZATION') ? 2 : 1;
    let value: number;
    if (this.#keyword(index, 'ROLE')) value = this.#skipAssignment(index + 1);
    else if (this.#keyword(index, 'SESSION') && this.#keyword(index + 1, 'AUTHORIZATION')) value = index + 2;
    else return;
    const token = this.#tokens[value];
    if (token?.kind === 'string') {
      if (token.text !== '' && token.text.toLowerCase() !== 'none') this.#add(token.text);
    } else {
      this.#roleAt(value);
    }
  }

  /** Role names separated by commas from `index` (`GROUP x` is old syntax for x); the index after them. */
  #roleList(index: number): number {
    let position = index;
    for (;;) {
      if (this.#keyword(position, 'GROUP') && this.#isName(position + 1)) position++;
      if (!this.#isName(position)) return position;
      this.#roleAt(position++);
      const separator = this.#tokens[position];
      if (separator?.kind !== 'symbol' || separator.text !== ',') return position;
      position++;
    }
  }

  #roleAt(index: number): void {
    const token = this.#tokens[index];
    if (token?.kind === 'quoted') this.#add(token.text);
    // Unquoted names are folded to lower case, as PostgreSQL folds them (ASCII letters only).
    else if (token?.kind === 'word' && !NOT_ROLE_NAMES.has(token.text.toUpperCase())) this.#add(token.text.replace(/[A-Z]+/g, (letters) => letters.toLowerCase()));
  }

  #add(name: string): void {
    // "public" is PUBLIC however it is written.
    if (name !== '' && name !== 'public') this.#found.push(name);
  }

  #isName(index: number): boolean {
    const token = this.#tokens[index];
    return token !== undefined && token.depth === 0 && (token.kind === 'word' || token.kind === 'quoted');
  }

  /** `=` or `TO`, as in SET role = x. */
  #skipAssignment(index: number): number {
    const token = this.#tokens[index];
    return (token?.kind === 'symbol' && token.text === '=') || this.#keyword(index, 'TO') ? index + 1 : index;
  }

  #keyword(index: number, ...words: string[]): boolean {
    const token = this.#tokens[index];
    return token !== undefined && token.kind === 'word' && token.depth === 0 && words.includes(token.text.toUpperCase());
  }

  /** The first keyword `word` outside parentheses from `start`, or -1. */
  #find(start: number, word: string): number {
    for (let index = start; index < this.#tokens.length; index++) if (this.#keyword(index, word)) return index;
    return -1;
  }
}
