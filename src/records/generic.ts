// RFC 3597 §5 generic RDATA text, "\# <length> <hex>", for any type: read it, and write its canonical form.
import type { Field } from './character-string.js';
import { fail, hexFields, show } from './text-fields.js';

/** True when RDATA text is in the generic form (its first field is the "\#" token). */
export function isGeneric(fields: readonly Field[]): boolean {
  return fields.length > 0 && !fields[0].quoted && fields[0].raw === '\\#';
}

/** The octets of generic RDATA text; the length must match the hex. */
export function parseGeneric(fields: readonly Field[], what: string): Uint8Array {
  const lenText = fields[1]?.raw ?? '';
  if (fields[1] === undefined || fields[1].quoted || !/^[0-9]{1,5}$/.test(lenText) || Number(lenText) > 65535) {
    fail(`${what}: "\\#" must be followed by the RDATA length (0 to 65535), not ${show(lenText)}`);
  }
  const length = Number(lenText);
  const bytes = fields.length > 2 ? hexFields(fields.slice(2), `${what} hex`) : new Uint8Array(0);
  if (bytes.length !== length) fail(`${what}: "\\# ${length}" announces ${length} octets but the hex holds ${bytes.length}`);
  return bytes;
}

/** Canonical generic text: "\# 0", or "\# <length> <lower-case hex>" in one word. */
export function genericText(bytes: Uint8Array): string {
  return bytes.length === 0 ? '\\# 0' : `\\# ${bytes.length} ${Buffer.from(bytes).toString('hex')}`;
}
