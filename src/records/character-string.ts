// Presentation-format RDATA fields and <character-string>s (RFC 1035 §5.1): quotes, \X and \DDD escapes.
import { LbdnsError } from '../errors.js';

export interface Field {
  /** The field as written, quotes and escapes included. */
  readonly raw: string;
  readonly quoted: boolean;
}

const SPACE = /[ \t\r\n]/;

/** Index of the quote that closes a string whose body starts at `from`. */
function closingQuote(text: string, from: number, what: string): number {
  for (let j = from; j < text.length; j++) {
    if (text[j] === '\\') j++;
    else if (text[j] === '"') return j;
  }
  throw new LbdnsError('E_INPUT', `${what} has an unterminated quoted string`);
}

/** Splits RDATA text on blanks outside quotes. `what` opens any error message. */
export function splitFields(text: string, what: string): Field[] {
  const fields: Field[] = [];
  let i = 0;
  while (i < text.length) {
    if (SPACE.test(text[i])) {
      i++;
      continue;
    }
    const quoted = text[i] === '"';
    let j = quoted ? i + 1 : i;
    for (;;) {
      if (j >= text.length) {
        if (quoted) throw new LbdnsError('E_INPUT', `${what} has an unterminated quoted string`);
        break;
      }
      const c = text[j];
      if (c === '\\') {
        j += 2;
        continue;
      }
      if (quoted && c === '"') {
        j++;
        if (j < text.length && !SPACE.test(text[j])) {
          throw new LbdnsError('E_INPUT', `${what} needs a space after a quoted string`);
        }
        break;
      }
      // RFC 9460 §2.1: a SvcParam is written key="value", the quoted value part of the word.
      if (!quoted && c === '"' && text[j - 1] === '=') {
        j = closingQuote(text, j + 1, what) + 1;
        if (j < text.length && !SPACE.test(text[j])) throw new LbdnsError('E_INPUT', `${what} needs a space after a quoted string`);
        break;
      }
      if (!quoted && c === '"') throw new LbdnsError('E_INPUT', `${what} has a quote inside a word`);
      if (!quoted && SPACE.test(c)) break;
      j++;
    }
    if (j > text.length) throw new LbdnsError('E_INPUT', `${what} ends with a lone backslash`);
    fields.push({ raw: text.slice(i, j), quoted });
    i = j;
  }
  return fields;
}

/** The octets a field stands for: quotes removed, escapes resolved, other characters as UTF-8. */
export function fieldBytes(field: Field, what: string): Uint8Array {
  const body = field.quoted ? field.raw.slice(1, -1) : field.raw;
  const out: number[] = [];
  let plainFrom = 0;
  const flush = (to: number): void => {
    if (to > plainFrom) out.push(...Buffer.from(body.slice(plainFrom, to), 'utf8'));
  };
  for (let i = 0; i < body.length; i++) {
    if (body[i] !== '\\') continue;
    flush(i);
    const next = body[i + 1];
    if (next === undefined) throw new LbdnsError('E_INPUT', `${what} ends with a lone backslash`);
    if (next >= '0' && next <= '9') {
      const digits = body.slice(i + 1, i + 4);
      if (!/^[0-9]{3}$/.test(digits) || Number(digits) > 255) {
        throw new LbdnsError('E_INPUT', `${what} has a bad escape "\\${digits}" (use \\DDD with DDD from 000 to 255)`);
      }
      out.push(Number(digits));
      i += 3;
    } else {
      const ch = String.fromCodePoint(body.codePointAt(i + 1) as number);
      out.push(...Buffer.from(ch, 'utf8'));
      i += ch.length;
    }
    plainFrom = i + 1;
  }
  flush(body.length);
  return Uint8Array.from(out);
}

/** Canonical quoted form: `"` and `\` escaped, octets outside printable ASCII as \DDD. */
export function quoteBytes(bytes: Uint8Array): string {
  let s = '"';
  for (const b of bytes) {
    if (b === 0x22 || b === 0x5c) s += `\\${String.fromCharCode(b)}`;
    else if (b >= 0x20 && b <= 0x7e) s += String.fromCharCode(b);
    else s += `\\${b.toString().padStart(3, '0')}`;
  }
  return `${s}"`;
}
