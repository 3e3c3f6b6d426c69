// Name patterns of RFC 2136 update rules (migrations/0015): which names of a zone a TSIG key may change.
import { LbdnsError } from '../errors.js';
import { parseDomainName } from '../records/domain-name.js';

/** A rule as stored: the key may change `types` (or every type, with ANY) at the names `pattern` matches in `zone`. */
export interface UpdateRule {
  readonly key: string;
  readonly zone: string;
  readonly pattern: string;
  readonly types: readonly string[];
}

const LABEL = /^[a-z0-9_-]{1,63}$/;

/** Whether `name` is `zone` or lies below it. */
export function inZone(name: string, zone: string): boolean {
  return name === zone || name.endsWith(`.${zone}`);
}

/**
 * The canonical pattern (lower case, no trailing dot), checked against its zone; throws LbdnsError('E_INPUT') with
 * one line otherwise. Forms: a name, `*.NAME` (any name below NAME), `LABEL.*` (any name whose first label is LABEL),
 * `*` (any name of the zone). The database checks the same (lbdns_update_pattern_problem).
 */
export function parsePattern(text: string, zone: string): string {
  const p = text.trim().toLowerCase().replace(/\.$/, '');
  if (p === '*') return p;
  if (p.endsWith('.*')) {
    if (!LABEL.test(p.slice(0, -2))) throw new LbdnsError('E_INPUT', `name pattern ${JSON.stringify(text)}: LABEL.* takes one label of letters, digits, "-" or "_"`);
    return p;
  }
  if (p.includes('*') && !p.startsWith('*.')) throw new LbdnsError('E_INPUT', `name pattern ${JSON.stringify(text)} must be a name, *.NAME, LABEL.* or *`);
  const base = parseDomainName(p.startsWith('*.') ? p.slice(2) : p, {}, 'name pattern');
  if (!inZone(base, zone)) throw new LbdnsError('E_INPUT', `name pattern ${p} is not inside zone ${zone}`);
  return p;
}

/** Whether `pattern` (canonical, of `zone`) covers `name` (canonical, inside `zone`). */
export function patternMatches(pattern: string, name: string, zone: string): boolean {
  if (!inZone(name, zone)) return false;
  if (pattern === '*') return true;
  if (pattern.endsWith('.*')) return name.slice(0, name.indexOf('.') === -1 ? name.length : name.indexOf('.')) === pattern.slice(0, -2);
  if (pattern.startsWith('*.')) return name.endsWith(pattern.slice(1));
  return name === pattern;
}

/** Whether one of the rules lets its key change `type` records at `name`. */
export function permits(rules: readonly Pick<UpdateRule, 'pattern' | 'types' | 'zone'>[], name: string, type: string): boolean {
  return rules.some((r) => patternMatches(r.pattern, name, r.zone) && (r.types.includes('ANY') || r.types.includes(type)));
}
