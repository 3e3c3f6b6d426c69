// Splits RFC 1035 §5.1 master-file text into entries (one per record or directive) of raw tokens with line numbers.

export interface Token {
  /** As written: quotes and escapes kept, so RDATA can be rejoined and parsed per type. */
  readonly text: string;
  readonly quoted: boolean;
  readonly line: number;
}

export interface Entry {
  /** Line of the entry's first token. */
  readonly line: number;
  /** The entry's line starts with a blank: the owner is the previous one. */
  readonly blankOwner: boolean;
  readonly tokens: readonly Token[];
}

export type Fail = (line: number, problem: string) => never;

// Characters that end an unquoted word.
const DELIMITERS = new Set([' ', '\t', '\r', '\n', ';', '(', ')', '"']);

export function tokenize(text: string, fail: Fail): Entry[] {
  const entries: Entry[] = [];
  let tokens: Token[] = [];
  let line = 1;
  let depth = 0;
  let openedOn = 0;
  let lineStart = true;
  let blankOwner = false;
  let i = 0;
  const endEntry = (): void => {
    if (tokens.length > 0) entries.push({ line: tokens[0].line, blankOwner, tokens });
    tokens = [];
  };
  while (i < text.length) {
    const c = text[i];
    if (lineStart && depth === 0 && tokens.length === 0) blankOwner = c === ' ' || c === '\t';
    lineStart = false;
    if (c === '\n') {
      if (depth === 0) endEntry();
      line++;
      lineStart = true;
      i++;
    } else if (c === ' ' || c === '\t' || c === '\r') {
      i++;
    } else if (c === ';') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '(') {
      if (depth > 0) fail(line, 'nested "(" (line ' + openedOn + ' opened one already)');
      depth = 1;
      openedOn = line;
      i++;
    } else if (c === ')') {
      if (depth === 0) fail(line, '")" without a matching "("');
      depth = 0;
      i++;
    } else if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"' && text[j] !== '\n') j += text[j] === '\\' && text[j + 1] !== '\n' ? 2 : 1;
      if (j >= text.length || text[j] !== '"') fail(line, 'unterminated quoted string');
      j++;
      if (j < text.length && !DELIMITERS.has(text[j])) fail(line, 'a quoted string must be followed by a blank');
      tokens.push({ text: text.slice(i, j), quoted: true, line });
      i = j;
    } else {
      let j = i;
      while (j < text.length && !DELIMITERS.has(text[j])) {
        if (text[j] === '\\') {
          if (j + 1 >= text.length || text[j + 1] === '\n') fail(line, 'a backslash at the end of a line');
          j += 2;
        } else {
          j++;
        }
      }
      // RFC 9460 §2.1: a SvcParam is written key="value", the quoted value part of the word.
      if (text[j] === '"' && text[j - 1] === '=') {
        j++;
        while (j < text.length && text[j] !== '"' && text[j] !== '\n') j += text[j] === '\\' && text[j + 1] !== '\n' ? 2 : 1;
        if (j >= text.length || text[j] !== '"') fail(line, 'unterminated quoted string');
        j++;
        if (j < text.length && !DELIMITERS.has(text[j])) fail(line, 'a quoted string must be followed by a blank');
      } else if (text[j] === '"') fail(line, 'a quote inside a word (put a blank before it)');
      tokens.push({ text: text.slice(i, j), quoted: false, line });
      i = j;
    }
  }
  if (depth > 0) fail(openedOn, '"(" is never closed');
  endEntry();
  return entries;
}
