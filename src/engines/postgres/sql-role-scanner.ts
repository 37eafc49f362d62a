import { StatementRoles, type Token } from './statement-roles.ts';

/** A name longer than this is no role name (those have at most 63 bytes); kept only as "too long". */
const MAX_TOKEN_CHARS = 1024;
/** Statements naming roles are short; of a longer one only the start is looked at. */
const MAX_STATEMENT_TOKENS = 16 * 1024;
/** Only statements starting with these can name roles (or start COPY data); the rest are skipped unkept. */
const ROLE_STATEMENT_VERBS = new Set(['GRANT', 'REVOKE', 'ALTER', 'CREATE', 'SET', 'COPY']);

type LexicalState = 'code' | 'string' | 'quoted' | 'dollar' | 'line comment' | 'block comment' | 'meta-command' | 'copy command line' | 'copy data';

/**
 * Splits SQL into statements as psql does, from text fed in pieces of any
 * size, and adds the roles each statement names. It keeps only the current
 * statement's tokens, and only of a statement that could name a role. It
 * reads a plain dump's SQL, and the definitions of an archive's ACL, POLICY
 * and like entries, which are SQL too.
 *
 * psql's rules it follows: `;` ends a statement outside parentheses; '...'
 * (with '' and, in E'...' or with standard_conforming_strings off, \'),
 * "..." (with ""), $tag$...$tag$, -- comments and nested block comments hide
 * what they hold; a backslash outside them starts a meta-command (\connect,
 * \restrict) that runs to the end of the line; after `COPY ... FROM stdin;`
 * the lines up to `\.` are row data. The `;` inside a BEGIN ATOMIC body
 * (which psql keeps together) splits it here, harmlessly: the pieces are
 * queries, which name no roles.
 */
export class SqlRoleScanner {
  /** Set by `SET standard_conforming_strings`; pg_dump has written `on` since PostgreSQL 8.2. */
  standardConformingStrings = true;
  readonly #roles: Set<string>;
  #state: LexicalState = 'code';
  /** The end of the last piece, when it could not be read without what follows (`-` of `--`, `'` of `''`). */
  #carry = '';
  #word = '';
  #literal = '';
  #literalTooLong = false;
  #backslashEscapes = false;
  #dollarDelimiter = '';
  #commentDepth = 0;
  #depth = 0;
  #tokens: Token[] = [];
  /** The statement cannot name a role: its tokens are not kept. */
  #ignored = false;
  #truncated = false;
  #atCopyLineStart = false;

  constructor(roles: Set<string>) {
    this.#roles = roles;
  }

  feed(piece: string, final = false): void {
    const text = this.#carry + piece;
    this.#carry = '';
    let index = 0;
    while (index < text.length) {
      const next = this.#step(text, index, final);
      if (next < 0) {
        this.#carry = text.slice(index);
        return;
      }
      index = next;
    }
  }

  /** The input is complete: a last statement without `;` counts too. Then ready for new input. */
  end(): void {
    this.feed('', true);
    if (this.#state === 'string' || this.#state === 'quoted' || this.#state === 'dollar') this.#endLiteral();
    this.#endWord();
    this.#endStatement();
    this.#state = 'code';
  }

  /** Reads from `index` in the current state; the index after what it read, or -1 when it needs more text. */
  #step(text: string, index: number, final: boolean): number {
    switch (this.#state) {
      case 'code':
        return this.#code(text, index, final);
      case 'string':
        return this.#backslashEscapes ? this.#escapedString(text, index, final) : this.#quotedText(text, index, final, "'");
      case 'quoted':
        return this.#quotedText(text, index, final, '"');
      case 'dollar':
        return this.#dollarQuoted(text, index, final);
      case 'block comment':
        return this.#blockComment(text, index, final);
      case 'copy data':
        return this.#copyData(text, index, final);
      default: {
        // line comment, meta-command, the rest of a COPY's line: all end with the line
        const newline = text.indexOf('\n', index);
        if (newline < 0) return text.length;
        if (this.#state === 'copy command line') {
          this.#state = 'copy data';
          this.#atCopyLineStart = true;
        } else {
          this.#state = 'code';
        }
        return newline + 1;
      }
    }
  }

  #code(text: string, index: number, final: boolean): number {
    let end = index;
    // Numbers are words too: they are never role names, and so never looked at.
    while (end < text.length && (isIdentifierPart(text.charCodeAt(end)) && (text[end] !== '$' || this.#word !== '' || end > index))) end++;
    if (end > index) {
      if (this.#word.length <= MAX_TOKEN_CHARS) this.#word += text.slice(index, Math.min(end, index + MAX_TOKEN_CHARS + 1 - this.#word.length));
      return end;
    }
    const character = text[index]!;
    if (character === "'") {
      const escapePrefix = this.#word === 'E' || this.#word === 'e';
      if (escapePrefix) this.#word = '';
      this.#endWord();
      this.#beginLiteral('string', escapePrefix || !this.standardConformingStrings);
      return index + 1;
    }
    this.#endWord();
    if (character === '-' || character === '/') {
      if (index + 1 >= text.length && !final) return -1;
      const next = text[index + 1];
      if (character === '-' && next === '-') {
        this.#state = 'line comment';
        return index + 2;
      }
      if (character === '/' && next === '*') {
        this.#state = 'block comment';
        this.#commentDepth = 1;
        return index + 2;
      }
    }
    switch (character) {
      case ' ':
      case '\t':
      case '\n':
      case '\r':
      case '\f':
        return index + 1;
      case '"':
        this.#beginLiteral('quoted', false);
        return index + 1;
      case '$':
        return this.#dollarStart(text, index, final);
      case '\\':
        this.#state = 'meta-command';
        return index + 1;
      case '(':
        this.#push('symbol', character);
        this.#depth++;
        return index + 1;
      case ')':
        this.#depth = Math.max(0, this.#depth - 1);
        this.#push('symbol', character);
        return index + 1;
      case ';':
        if (this.#depth === 0) this.#endStatement();
        else this.#push('symbol', character);
        return index + 1;
      default:
        this.#push('symbol', character);
        return index + 1;
    }
  }

  /** `$tag$` opens a dollar quote; `$1` is a parameter and a lone `$` an operator's. */
  #dollarStart(text: string, index: number, final: boolean): number {
    let end = index + 1;
    while (end < text.length && end - index <= MAX_TOKEN_CHARS && text[end] !== '$' && (end === index + 1 ? isIdentifierStart : isIdentifierPart)(text.charCodeAt(end))) end++;
    if (end >= text.length && !final && end - index <= MAX_TOKEN_CHARS) return -1;
    if (text[end] === '$') {
      this.#dollarDelimiter = text.slice(index, end + 1);
      this.#beginLiteral('dollar', false);
      return end + 1;
    }
    this.#push('symbol', '$');
    return index + 1;
  }

  /** '...' or "...": the quote doubled stands for itself. */
  #quotedText(text: string, index: number, final: boolean, quote: string): number {
    if (text[index] !== quote) {
      const end = text.indexOf(quote, index);
      return this.#appendLiteral(text, index, end < 0 ? text.length : end);
    }
    if (index + 1 >= text.length && !final) return -1;
    if (text[index + 1] === quote) {
      this.#appendLiteral(quote, 0, 1);
      return index + 2;
    }
    this.#endLiteral();
    return index + 1;
  }

  /** E'...': a backslash escapes the next character (read here as itself, enough for names). */
  #escapedString(text: string, index: number, final: boolean): number {
    const character = text[index];
    if (character === '\\') {
      if (index + 1 >= text.length && !final) return -1;
      this.#appendLiteral(text, index + 1, Math.min(index + 2, text.length));
      return index + 2;
    }
    if (character === "'") return this.#quotedText(text, index, final, "'");
    let end = index;
    while (end < text.length && text[end] !== '\\' && text[end] !== "'") end++;
    return this.#appendLiteral(text, index, end);
  }

  #dollarQuoted(text: string, index: number, final: boolean): number {
    const delimiter = this.#dollarDelimiter;
    const end = text.indexOf(delimiter, index);
    if (end >= 0) {
      this.#appendLiteral(text, index, end);
      this.#endLiteral();
      return end + delimiter.length;
    }
    if (final) return this.#appendLiteral(text, index, text.length);
    // Keep what could be the start of the closing delimiter for the next piece.
    const safe = text.length - (delimiter.length - 1);
    return safe > index ? this.#appendLiteral(text, index, safe) : -1;
  }

  #blockComment(text: string, index: number, final: boolean): number {
    let position = index;
    while (position < text.length && text[position] !== '*' && text[position] !== '/') position++;
    if (position >= text.length) return text.length;
    if (position + 1 >= text.length) return final ? text.length : position > index ? position : -1;
    const pair = text.slice(position, position + 2);
    if (pair === '*/') {
      if (--this.#commentDepth === 0) this.#state = 'code';
      return position + 2;
    }
    if (pair === '/*') {
      this.#commentDepth++;
      return position + 2;
    }
    return position + 1;
  }

  /** COPY's rows, a line at a time without keeping any, up to the line `\.`. */
  #copyData(text: string, index: number, final: boolean): number {
    if (this.#atCopyLineStart) {
      const rest = text.slice(index, index + 4);
      const terminator = ['\\.\n', '\\.\r\n'].find((candidate) => rest.startsWith(candidate));
      if (terminator) {
        this.#state = 'code';
        return index + terminator.length;
      }
      if (rest.length < 4 && ['\\.\n', '\\.\r\n'].some((candidate) => candidate.startsWith(rest))) {
        if (!final) return -1;
        if (rest === '\\.' || rest === '\\.\r') {
          this.#state = 'code';
          return text.length;
        }
      }
      this.#atCopyLineStart = false;
    }
    const newline = text.indexOf('\n', index);
    if (newline < 0) return text.length;
    this.#atCopyLineStart = true;
    return newline + 1;
  }

  #beginLiteral(state: 'string' | 'quoted' | 'dollar', backslashEscapes: boolean): void {
    this.#state = state;
    this.#literal = '';
    this.#literalTooLong = false;
    this.#backslashEscapes = backslashEscapes;
  }

  #appendLiteral(text: string, start: number, end: number): number {
    if (this.#literal.length + (end - start) > MAX_TOKEN_CHARS) this.#literalTooLong = true;
    else this.#literal += text.slice(start, end);
    return end;
  }

  #endLiteral(): void {
    const kind = this.#literalTooLong ? 'long' : this.#state === 'quoted' ? 'quoted' : 'string';
    this.#state = 'code';
    this.#push(kind, this.#literal);
    this.#literal = '';
  }

  #endWord(): void {
    if (this.#word === '') return;
    this.#push(this.#word.length > MAX_TOKEN_CHARS ? 'long' : 'word', this.#word);
    this.#word = '';
  }

  #push(kind: Token['kind'], text: string): void {
    if (this.#ignored) return;
    if (this.#tokens.length === 0 && !(kind === 'word' && ROLE_STATEMENT_VERBS.has(text.toUpperCase()))) {
      this.#ignored = true;
      return;
    }
    if (this.#tokens.length >= MAX_STATEMENT_TOKENS) this.#truncated = true;
    else this.#tokens.push({ kind, text, depth: this.#depth });
  }

  #endStatement(): void {
    if (this.#tokens.length > 0) {
      const statement = new StatementRoles(this.#tokens, !this.#truncated);
      for (const role of statement.roles()) this.#roles.add(role);
      if (statement.startsCopyData()) this.#state = 'copy command line';
      this.standardConformingStrings = statement.standardConformingStrings() ?? this.standardConformingStrings;
    }
    this.#tokens = [];
    this.#ignored = false;
    this.#truncated = false;
    this.#depth = 0;
  }
}

/** What may start an identifier in PostgreSQL: a letter, `_`, any non-ASCII character. */
function isIdentifierStart(code: number): boolean {
  return (code >= 97 && code <= 122) || (code >= 65 && code <= 90) || code === 95 || code >= 128;
}

/** What may follow in one: also digits and `$`. */
function isIdentifierPart(code: number): boolean {
  return isIdentifierStart(code) || (code >= 48 && code <= 57) || code === 36;
}
