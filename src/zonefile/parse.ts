// Reads an RFC 1035 master file into a zone's SOA and records; our own small strict parser, not a third-party one.
import { LbdnsError } from '../errors.js';
import { canonicalRecordType, parseContent } from '../records/content.js';
import { isInZone, parseDomainName } from '../records/domain-name.js';
import { parseTtl } from './ttl.js';
import { tokenize, type Entry, type Token } from './tokenize.js';

export interface ParsedSoa {
  readonly mname: string;
  readonly rname: string;
  readonly serial: number;
  readonly refresh: number;
  readonly retry: number;
  readonly expire: number;
  readonly minimum: number;
  /** The zone's default TTL, which is also the SOA's own. */
  readonly ttl: number;
}

export interface ParsedRecord {
  readonly name: string;
  readonly type: string;
  /** null: the zone's default TTL. */
  readonly ttl: number | null;
  readonly content: string;
  readonly line: number;
}

export interface ParsedZone {
  readonly origin: string;
  readonly soa: ParsedSoa;
  readonly records: readonly ParsedRecord[];
}

export interface ParseZoneOptions {
  /** Named in every error message. */
  readonly file: string;
  /** The zone's apex; when absent, the SOA owner is the apex. */
  readonly origin?: string;
  /** Default TTL when the file has neither $TTL nor an explicit TTL on its SOA. */
  readonly defaultTtl?: number;
}

const DEFAULT_TTL = 3600;
const MAX_SERIAL = 0xffffffff;
const CLASSES = new Set(['IN', 'CH', 'CS', 'HS', 'ANY', 'NONE']);

interface Pending {
  readonly name: string;
  readonly type: string;
  /** Written on the record itself. */
  readonly explicitTtl: number | undefined;
  /** The $TTL in effect on the record's line. */
  readonly dollarTtl: number | undefined;
  readonly content: string;
  readonly line: number;
}

/**
 * Parses a whole zone. Exactly one SOA, at the apex; every record inside the zone. A record's TTL is
 * its own, else the $TTL in effect; it is stored as null when that equals the zone's default TTL
 * (first $TTL, else the SOA's explicit TTL, else `defaultTtl`, else 3600).
 * Throws LbdnsError('E_ZONEFILE', '<file>:<line>: <problem>').
 */
export function parseZoneFile(text: string, opts: ParseZoneOptions): ParsedZone {
  const fail = (line: number, problem: string): never => {
    throw new LbdnsError('E_ZONEFILE', `${opts.file}:${line}: ${problem}`);
  };
  // Turns the E_INPUT of a name or content check into a zone-file error on `line`.
  const at = <T>(line: number, f: () => T): T => {
    try {
      return f();
    } catch (err) {
      if (err instanceof LbdnsError && err.code === 'E_INPUT') fail(line, err.message);
      throw err;
    }
  };

  let apex = opts.origin === undefined ? undefined : at(1, () => parseDomainName(opts.origin as string, {}, 'zone origin'));
  let origin = apex;
  let ttlInEffect: number | undefined;
  let firstDollarTtl: number | undefined;
  let previousOwner: string | undefined;
  let soa: (Omit<ParsedSoa, 'ttl'> & { explicitTtl: number | undefined; line: number }) | undefined;
  const pending: Pending[] = [];

  const name = (token: Token, what: string, wildcard = false): string => {
    if (token.quoted) fail(token.line, `${what} ${token.text} must not be quoted`);
    if (origin === undefined && token.text !== '.' && !token.text.endsWith('.')) {
      fail(token.line, `relative ${what} "${token.text}" but no $ORIGIN is set`);
    }
    return at(token.line, () => parseDomainName(token.text, { origin, wildcard }, what));
  };

  const directive = (entry: Entry): void => {
    const [head, ...args] = entry.tokens;
    const keyword = head.text.toUpperCase();
    if (keyword === '$INCLUDE') fail(entry.line, '$INCLUDE is not supported: put the included records in this file');
    if (keyword !== '$ORIGIN' && keyword !== '$TTL') fail(entry.line, `unknown directive ${head.text}`);
    if (args.length !== 1) fail(entry.line, `${keyword} takes exactly one value`);
    if (keyword === '$ORIGIN') {
      origin = name(args[0], '$ORIGIN');
    } else {
      ttlInEffect = at(entry.line, () => parseTtl(args[0].text, '$TTL'));
      firstDollarTtl ??= ttlInEffect;
    }
  };

  const record = (entry: Entry): void => {
    const tokens = entry.tokens;
    let i = 0;
    let owner: string;
    if (entry.blankOwner) {
      if (previousOwner === undefined) fail(entry.line, 'the first record starts with a blank, so it has no owner name');
      owner = previousOwner as string;
    } else {
      owner = name(tokens[i++], 'owner name', true);
    }
    let ttl: number | undefined;
    let classSeen = false;
    for (let k = 0; k < 2 && i < tokens.length && !tokens[i].quoted; k++) {
      const t = tokens[i].text;
      if (/^[0-9]/.test(t)) {
        if (ttl !== undefined) fail(entry.line, `a second TTL "${t}"`);
        ttl = at(entry.line, () => parseTtl(t, 'TTL'));
      } else if (CLASSES.has(t.toUpperCase()) || /^CLASS[0-9]+$/i.test(t)) {
        if (classSeen) fail(entry.line, `a second class "${t}"`);
        if (t.toUpperCase() !== 'IN') fail(entry.line, `class ${t} is not supported (only IN)`);
        classSeen = true;
      } else {
        break;
      }
      i++;
    }
    if (i >= tokens.length) fail(entry.line, 'missing record type');
    const typeToken = tokens[i++];
    const rdata = tokens.slice(i);
    // RFC 3597 §5: TYPEnnn stands for any type, TYPE1 for A; the rest are stored as TYPEnnn.
    const type = typeToken.text.toUpperCase() === 'SOA' ? 'SOA' : at(entry.line, () => canonicalRecordType(typeToken.text));
    if (rdata.length === 0) fail(entry.line, `missing RDATA for ${type}`);
    previousOwner = owner;
    if (type === 'SOA') {
      if (soa !== undefined) fail(entry.line, `a second SOA record (the first is on line ${soa.line})`);
      if (apex !== undefined && owner !== apex) fail(entry.line, `the SOA owner ${owner} is not the zone apex ${apex}`);
      apex = owner;
      origin ??= owner;
      if (rdata.length !== 7) fail(entry.line, 'SOA needs "mname rname serial refresh retry expire minimum"');
      const serialText = rdata[2].text;
      if (!/^[0-9]{1,10}$/.test(serialText) || Number(serialText) > MAX_SERIAL) {
        fail(entry.line, `SOA serial "${serialText}" is not a number from 0 to ${MAX_SERIAL}`);
      }
      const timer = (k: number, what: string): number => at(entry.line, () => parseTtl(rdata[k].text, `SOA ${what}`));
      soa = {
        mname: name(rdata[0], 'SOA mname'),
        rname: name(rdata[1], 'SOA rname'),
        serial: Number(serialText),
        refresh: timer(3, 'refresh'),
        retry: timer(4, 'retry'),
        expire: timer(5, 'expire'),
        minimum: timer(6, 'minimum'),
        explicitTtl: ttl,
        line: entry.line,
      };
      return;
    }
    if (origin === undefined) fail(entry.line, 'no origin yet: start with $ORIGIN or an SOA record with an absolute name');
    const text = rdata.map((t) => t.text).join(' ');
    const { content } = at(entry.line, () => parseContent(type, text, origin));
    pending.push({ name: owner, type, explicitTtl: ttl, dollarTtl: ttlInEffect, content, line: entry.line });
  };

  for (const entry of tokenize(text, fail)) {
    if (!entry.blankOwner && entry.tokens[0].text.startsWith('$') && !entry.tokens[0].quoted) directive(entry);
    else record(entry);
  }
  if (soa === undefined || apex === undefined) return fail(1, 'no SOA record');
  checkZoneContents(apex, pending, fail);

  const zoneTtl = firstDollarTtl ?? soa.explicitTtl ?? opts.defaultTtl ?? DEFAULT_TTL;
  const { explicitTtl: _explicit, line: _line, ...soaFields } = soa;
  return {
    origin: apex,
    soa: { ...soaFields, ttl: zoneTtl },
    records: pending.map(({ name, type, explicitTtl, dollarTtl, content, line }) => ({
      name,
      type,
      ttl: explicitTtl ?? (dollarTtl === zoneTtl ? null : (dollarTtl ?? null)),
      content,
      line,
    })),
  };
}

/**
 * Zone-level rules: names inside the zone, no duplicates, CNAME alone at its name (RFC 1034 §3.6.2), one DNAME
 * per name and nothing below it (RFC 6672 §2.3-2.4: a server would never answer from data the DNAME hides).
 */
function checkZoneContents(apex: string, records: readonly Pending[], fail: (line: number, problem: string) => never): void {
  const seen = new Map<string, number>();
  const byName = new Map<string, { cname?: number; other?: number }>();
  const dnames = new Map<string, number>();
  for (const r of records) {
    if (r.type !== 'DNAME') continue;
    const first = dnames.get(r.name);
    if (first !== undefined) fail(r.line, `a second DNAME at ${r.name} (the first is on line ${first}); a name holds at most one`);
    dnames.set(r.name, r.line);
  }
  for (const r of records) {
    if (dnames.size === 0) break;
    for (let p = r.name.indexOf('.'); p >= 0; p = r.name.indexOf('.', p + 1)) {
      const owner = dnames.get(r.name.slice(p + 1));
      if (owner !== undefined) fail(r.line, `${r.name} is below the DNAME on line ${owner}, which hides it (RFC 6672 §2.3)`);
    }
  }
  for (const r of records) {
    if (!isInZone(r.name, apex)) fail(r.line, `${r.name} is outside the zone ${apex}`);
    const key = `${r.name} ${r.type} ${r.content}`;
    const dup = seen.get(key);
    if (dup !== undefined) fail(r.line, `duplicate ${r.type} record for ${r.name} (first on line ${dup})`);
    seen.set(key, r.line);
    const at = byName.get(r.name) ?? {};
    if (r.type === 'CNAME') {
      if (r.name === apex) fail(r.line, `a CNAME is not allowed at the zone apex ${apex}`);
      const other = at.cname ?? at.other;
      if (other !== undefined) fail(r.line, `CNAME at ${r.name} conflicts with the record on line ${other}`);
      at.cname = r.line;
    } else {
      if (at.cname !== undefined) fail(r.line, `${r.name} has a CNAME (line ${at.cname}) and so can hold no other record`);
      at.other ??= r.line;
    }
    byName.set(r.name, at);
  }
}
