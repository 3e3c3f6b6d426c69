// Domain names in lbdns's canonical form (absolute, lower case, no trailing dot; see ./record-rows.ts).
import { LbdnsError } from '../errors.js';

/** RFC 1035 §2.3.4: 63 octets per label, 255 per name on the wire (253 in presentation form). */
const MAX_LABEL_OCTETS = 63;
const MAX_NAME_OCTETS = 255;
// Hostname letters plus `_`, which SRV (RFC 2782) and DKIM-style owners need.
const LABEL_CHARS = /^[a-z0-9_-]+$/;

export interface NameOptions {
  /**
   * Zone-file origin in canonical form: a name without a trailing dot is relative to it and `@` is it.
   * Without an origin every name is taken as absolute, with or without its trailing dot (CLI input).
   */
  readonly origin?: string;
  /** Allow `*` as the leftmost label (owner names only, RFC 4592). */
  readonly wildcard?: boolean;
  /** Allow the root "." (null MX, RFC 7505; SRV "no service", RFC 2782). */
  readonly root?: boolean;
}

/** Why `labels` (already lower case) do not form a valid name, or undefined when they do. */
function labelsProblem(labels: readonly string[], wildcard: boolean): string | undefined {
  let octets = 1;
  for (const [i, label] of labels.entries()) {
    if (label === '') return 'it has an empty label';
    if (label.length > MAX_LABEL_OCTETS) {
      return `label "${label.slice(0, 20)}…" is ${label.length} octets (max ${MAX_LABEL_OCTETS})`;
    }
    if (label === '*') {
      if (!wildcard) return 'a wildcard "*" is not allowed here';
      if (i !== 0) return '"*" is only allowed as the leftmost label';
    } else if (!LABEL_CHARS.test(label)) {
      return `label "${label}" may hold only letters, digits, "-" and "_"`;
    }
    octets += label.length + 1;
  }
  if (octets > MAX_NAME_OCTETS) return `it is ${octets} octets on the wire (max ${MAX_NAME_OCTETS})`;
  return undefined;
}

/**
 * Validates a name as typed by an operator and returns it in canonical form.
 * `what` names the field in the error, e.g. `CNAME record target`.
 */
export function parseDomainName(text: string, opts: NameOptions, what: string): string {
  const fail = (problem: string): never => {
    throw new LbdnsError('E_INPUT', `${what} ${JSON.stringify(text)} is not a valid domain name: ${problem}`);
  };
  const origin = opts.origin;
  if (text === '@') {
    if (origin === undefined) fail('"@" needs a zone origin');
    return origin as string;
  }
  if (text === '.') {
    if (!opts.root) fail('the root is not allowed here');
    return '.';
  }
  if (text === '') fail('it is empty');
  if (text.includes('\\')) fail('escapes are not supported in names');
  const absolute = text.endsWith('.');
  let name = (absolute ? text.slice(0, -1) : text).toLowerCase();
  if (!absolute && origin !== undefined && origin !== '.') name = `${name}.${origin}`;
  const problem = labelsProblem(name.split('.'), opts.wildcard ?? false);
  if (problem !== undefined) fail(problem);
  return name;
}

/** True when `name` is already in canonical form ("." only with `root`, `*` first only with `wildcard`). */
export function isValidDomainName(name: string, opts: { wildcard?: boolean; root?: boolean } = {}): boolean {
  if (name === '.') return opts.root ?? false;
  if (name !== name.toLowerCase() || name.endsWith('.')) return false;
  return labelsProblem(name.split('.'), opts.wildcard ?? false) === undefined;
}

/** True when `name` is `apex` or below it (both canonical). */
export function isInZone(name: string, apex: string): boolean {
  return apex === '.' || name === apex || name.endsWith(`.${apex}`);
}

/** Uncompressed wire form of a canonical name (RFC 1035 §3.1); "." is the root. */
export function nameToWire(name: string): Uint8Array {
  if (!isValidDomainName(name, { wildcard: true, root: true })) {
    throw new LbdnsError('E_INPUT', `${JSON.stringify(name)} is not a canonical domain name`);
  }
  if (name === '.') return Uint8Array.of(0);
  const out = new Uint8Array(name.length + 2);
  let at = 0;
  for (const label of name.split('.')) {
    out[at++] = label.length;
    for (let i = 0; i < label.length; i++) out[at++] = label.charCodeAt(i);
  }
  out[at] = 0;
  return out;
}
