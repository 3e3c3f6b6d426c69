// Reading presentation-format RDATA fields (numbers, names, hex, base64, strings) into values, with one-line errors.
import { LbdnsError } from '../errors.js';
import { fieldBytes, type Field } from './character-string.js';
import { parseDomainName } from './domain-name.js';

export function fail(message: string): never {
  throw new LbdnsError('E_INPUT', message);
}

/** Quoted, shortened echo of operator input for error messages. */
export function show(text: string): string {
  return JSON.stringify(text.length > 60 ? `${text.slice(0, 57)}...` : text);
}

/** A decimal number from 0 to `max`, unquoted. */
export function uintField(field: Field | undefined, max: number, what: string): number {
  const text = field?.raw ?? '';
  if (field === undefined || field.quoted || !/^[0-9]{1,10}$/.test(text) || Number(text) > max) {
    fail(`${what} ${show(text)} is not a number from 0 to ${max}`);
  }
  return Number(text);
}

/** A number from 0 to `max`, or one of `mnemonics` (case-insensitive). */
export function codeField(field: Field | undefined, max: number, mnemonics: Readonly<Record<string, number>>, what: string): number {
  const known = field === undefined || field.quoted ? undefined : mnemonics[field.raw.toUpperCase()];
  return known ?? uintField(field, max, what);
}

/** A domain name in canonical form; relative names hang from `origin`. */
export function nameField(field: Field | undefined, origin: string | undefined, root: boolean, what: string): string {
  if (field === undefined) fail(`${what} is missing`);
  if (field.quoted) fail(`${what} ${field.raw} must not be quoted`);
  return parseDomainName(field.raw, { origin, root }, what);
}

/** A <character-string> of at most 255 octets. */
export function stringField(field: Field | undefined, what: string): Uint8Array {
  if (field === undefined) fail(`${what} is missing`);
  const bytes = fieldBytes(field, what);
  if (bytes.length > 255) fail(`${what} of ${bytes.length} octets exceeds 255`);
  return bytes;
}

/** Hex digits spread over the remaining fields (blanks allowed between them, RFC 4034 §5.3 style). */
export function hexFields(fields: readonly Field[], what: string): Uint8Array {
  const text = fields.map((f) => f.raw).join('');
  if (fields.some((f) => f.quoted) || !/^([0-9a-fA-F]{2})+$/.test(text)) fail(`${what} ${show(text)} is not an even number of hex digits`);
  return Uint8Array.from(Buffer.from(text, 'hex'));
}

/** Base64 spread over the remaining fields (RFC 4648 §4, padded). */
export function base64Fields(fields: readonly Field[], what: string): Uint8Array {
  const text = fields.map((f) => f.raw).join('');
  if (fields.some((f) => f.quoted) || text.length === 0 || text.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(text)) {
    fail(`${what} ${show(text)} is not base64`);
  }
  return Uint8Array.from(Buffer.from(text, 'base64'));
}

export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
export const base64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');

/** Absolute presentation of a canonical name when `file` (zone files set $ORIGIN), canonical otherwise. */
export const nameText = (name: string, file: boolean): string => (file && name !== '.' ? `${name}.` : name);

/**
 * A <character-string> written without quotes (RFC 9460 SvcParam values): printable ASCII as itself, the
 * characters a zone-file reader would take as syntax escaped, every other octet as \DDD.
 */
export function unquotedText(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) {
    if (b === 0x22 || b === 0x5c) s += `\\${String.fromCharCode(b)}`;
    else if (b > 0x20 && b < 0x7f && b !== 0x3b && b !== 0x28 && b !== 0x29) s += String.fromCharCode(b);
    else s += `\\${b.toString().padStart(3, '0')}`;
  }
  return s;
}
