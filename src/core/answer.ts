// The answering core: (snapshot, question, client, pool chooser) → sections and rcode. Pure and synchronous.
import { QCLASS, QTYPE, RCODE } from './constants.js';
import { isAtOrBelow, nameToWire, parentName } from './names.js';
import type { ClientSubnet, Query } from './query.js';
import { findZone, type Pool, type PoolMember, type RRset, type Snapshot, type Zone, type ZoneNode } from './snapshot.js';

export interface RR {
  readonly name: string;
  readonly type: number;
  readonly cls: number;
  readonly ttl: number;
  readonly rdata: Uint8Array;
}

/** Where a query came from: the resolver's address and, when sent, its client subnet (RFC 7871). */
export interface Client {
  readonly address: string;
  readonly ecs: ClientSubnet | undefined;
}

/** What a pool policy chose for one answer. */
export interface PoolChoice {
  readonly members: readonly PoolMember[];
  /** ECS scope prefix the choice depended on (0: not on the client). */
  readonly scope: number;
  /** Every member was down: answered with all enabled members, or SERVFAIL. */
  readonly allDown: boolean;
}

export interface AnswerContext {
  readonly nodeName: string;
  /** Picks the members for a pool answer; members are already of the asked family. */
  readonly choose: (pool: Pool, family: 4 | 6, client: Client) => PoolChoice;
  /** Adds RRSIGs and denial to an answer for a query with DO set (src/dnssec/sign.ts); absent: never signed. */
  readonly dnssec?: { sign(snapshot: Snapshot, query: Query, answer: Answer): Answer };
}

export type AnswerKind = 'answer' | 'nodata' | 'nxdomain' | 'referral' | 'refused' | 'notimp' | 'servfail' | 'chaos' | 'yxdomain';

export interface Answer {
  readonly rcode: number;
  readonly aa: boolean;
  readonly kind: AnswerKind;
  readonly answer: RR[];
  readonly authority: RR[];
  readonly additional: RR[];
  /** Additional records a referral cannot work without (in-bailiwick glue): TC if they do not fit. */
  readonly glueRequired: boolean;
  readonly ecsScope: number;
  readonly zone: string | undefined;
  readonly pool: Pool | undefined;
  readonly choice: PoolChoice | undefined;
  /**
   * The name this response counts against for response rate limiting, as BIND keys it: the query name;
   * the wildcard's parent for an answer synthesised from a wildcard; the zone for NXDOMAIN and NODATA;
   * the delegation point for a referral. A name the snapshot or the query already holds: nothing is built.
   */
  readonly rateName: string | undefined;
  /** Owners synthesised from a wildcard, with the closest encloser the "*" hangs from (DNSSEC signs them as "*.<it>"). */
  readonly wildcards?: ReadonlyMap<string, string>;
  /** NXDOMAIN and NODATA: the name that has no such data (the end of a CNAME chain, not always the asked name). */
  readonly negativeName?: string;
  /** The key tag that signed this answer (src/dnssec/sign.ts); absent: unsigned. */
  readonly signedBy?: number;
}

/** CNAME chains longer than this are cut (resolvers give up at about this depth too). */
const MAX_CHAIN = 8;
const CHAOS_IDS = new Set(['id.server', 'hostname.bind']);

interface Draft {
  rcode: number;
  aa: boolean;
  kind: AnswerKind;
  answer: RR[];
  authority: RR[];
  additional: RR[];
  glueRequired: boolean;
  ecsScope: number;
  zone: string | undefined;
  pool: Pool | undefined;
  choice: PoolChoice | undefined;
  rateName: string | undefined;
  wildcards?: Map<string, string>;
  negativeName?: string;
}

function draft(kind: AnswerKind, rcode: number, aa: boolean): Draft {
  return { rcode, aa, kind, answer: [], authority: [], additional: [], glueRequired: false, ecsScope: 0, zone: undefined, pool: undefined, choice: undefined, rateName: undefined };
}

function pushSet(out: RR[], owner: string, set: RRset, ttl = set.ttl): void {
  for (const rdata of set.rdata) out.push({ name: owner, type: set.type, cls: QCLASS.IN, ttl, rdata });
}

function txtRdata(text: string): Uint8Array {
  const bytes = Buffer.from(text.slice(0, 255), 'utf8').subarray(0, 255);
  const out = new Uint8Array(bytes.length + 1);
  out[0] = bytes.length;
  out.set(bytes, 1);
  return out;
}

/** The cut (NS below the apex) at or above `name`, nearest the apex, if any. */
function findCut(zone: Zone, name: string, qtype: number): string | undefined {
  if (zone.cuts.size === 0) return undefined;
  let found: string | undefined;
  for (let n: string | undefined = name; n !== undefined && n !== zone.name; n = parentName(n)) {
    // A DS query at the cut itself belongs to the parent side (RFC 4035 §3.1.4.1).
    if (zone.cuts.has(n) && !(n === name && qtype === QTYPE.DS)) found = n;
  }
  return found;
}

interface Found {
  readonly node: ZoneNode | undefined;
  readonly wildcard: string | undefined;
  readonly exists: boolean;
  /** The DNAME the name lies below (RFC 6672 §3.2); `node` is then the DNAME's owner. */
  readonly dname: RRset | undefined;
}

const NOT_FOUND: Found = Object.freeze({ node: undefined, wildcard: undefined, exists: false, dname: undefined });
const EMPTY_NON_TERMINAL: Found = Object.freeze({ node: undefined, wildcard: undefined, exists: true, dname: undefined });

/**
 * Looks a name up inside its zone: exact node, or one synthesised from a wildcard (RFC 4592), then
 * `wildcard` is the closest encloser the "*" hangs from, or the DNAME of the closest encloser.
 */
function lookup(zone: Zone, name: string): Found {
  const node = zone.nodes.get(name);
  if (node) return { node, wildcard: undefined, exists: true, dname: undefined };
  if (zone.emptyNonTerminals.has(name)) return EMPTY_NON_TERMINAL;
  // Closest encloser: the nearest ancestor that exists; its "*" child is the source of synthesis. Nothing
  // exists below a DNAME (the zone file reader refuses such data), so a DNAME above the name is at the encloser.
  for (let ce = parentName(name); ce !== undefined; ce = parentName(ce)) {
    const encloser = zone.nodes.get(ce);
    if (encloser !== undefined || zone.emptyNonTerminals.has(ce) || ce === zone.name) {
      const dname = encloser?.rrsets.get(QTYPE.DNAME);
      if (dname !== undefined) return { node: encloser, wildcard: undefined, exists: true, dname };
      const source = zone.nodes.get(ce === '' ? '*' : `*.${ce}`);
      return source ? { node: source, wildcard: ce, exists: true, dname: undefined } : NOT_FOUND;
    }
    if (ce === zone.name || ce === '') break;
  }
  return NOT_FOUND;
}

/** RFC 6672 §2.2: the owner's suffix of `name` replaced by the DNAME's target; undefined when over 255 octets. */
function substitute(name: string, owner: string, target: string): string | undefined {
  const result = `${name.slice(0, name.length - owner.length - 1)}.${target}`;
  return result.length + 2 > 255 ? undefined : result;
}

function addressSets(node: ZoneNode): RRset[] {
  const out: RRset[] = [];
  const a = node.rrsets.get(QTYPE.A);
  const aaaa = node.rrsets.get(QTYPE.AAAA);
  if (a) out.push(a);
  if (aaaa) out.push(aaaa);
  return out;
}

/** Adds A/AAAA for targets we hold (RFC 1035 §3.3.9 additional section processing). */
function addTargets(snapshot: Snapshot, d: Draft, targets: readonly string[], seen: Set<string>): void {
  for (const target of targets) {
    if (seen.has(target)) continue;
    seen.add(target);
    const zone = findZone(snapshot, target);
    const node = zone?.nodes.get(target);
    if (!node) continue;
    for (const set of addressSets(node)) pushSet(d.additional, target, set);
  }
}

function negative(d: Draft, zone: Zone, kind: 'nodata' | 'nxdomain', name: string): void {
  d.kind = kind;
  d.negativeName = name;
  d.rateName = zone.name;
  d.rcode = kind === 'nxdomain' ? RCODE.NXDOMAIN : RCODE.NOERROR;
  pushSet(d.authority, zone.name, zone.soa, zone.negativeTtl);
}

function referral(d: Draft, snapshot: Snapshot, zone: Zone, cut: string): void {
  const ns = zone.nodes.get(cut)!.rrsets.get(QTYPE.NS)!;
  d.kind = 'referral';
  d.aa = false;
  d.rateName = cut;
  pushSet(d.authority, cut, ns);
  for (const target of ns.targets) {
    // Glue below the cut is required for the referral to work; sibling glue is a courtesy.
    const node = zone.nodes.get(target) ?? (isAtOrBelow(target, zone.name) ? undefined : findZone(snapshot, target)?.nodes.get(target));
    if (!node) continue;
    const sets = addressSets(node);
    if (sets.length && isAtOrBelow(target, cut)) d.glueRequired = true;
    for (const set of sets) pushSet(d.additional, target, set);
  }
}

function answerPool(d: Draft, owner: string, pool: Pool, qtype: number, client: Client, ctx: AnswerContext): boolean {
  const family = qtype === QTYPE.AAAA ? 6 : 4;
  const choice = ctx.choose(pool, family, client);
  d.pool = pool;
  d.choice = choice;
  d.ecsScope = Math.max(d.ecsScope, choice.scope);
  if (choice.members.length === 0) {
    if (choice.allDown && pool.allDown === 'servfail') {
      d.kind = 'servfail';
      d.rcode = RCODE.SERVFAIL;
      d.aa = false;
      return true;
    }
    return false;
  }
  const type = family === 6 ? QTYPE.AAAA : QTYPE.A;
  for (const m of choice.members) d.answer.push({ name: owner, type, cls: QCLASS.IN, ttl: pool.ttl, rdata: m.rdata });
  return true;
}

/** RFC 8482 §4.2: answer ANY with one RRset rather than everything at the name. */
function minimalAnyType(node: ZoneNode): number | undefined {
  if (node.pool) return QTYPE.A;
  if (node.rrsets.has(QTYPE.A)) return QTYPE.A;
  if (node.rrsets.has(QTYPE.AAAA)) return QTYPE.AAAA;
  let best: number | undefined;
  for (const type of node.rrsets.keys()) if (best === undefined || type < best) best = type;
  return best;
}

function chaos(query: Query, ctx: AnswerContext): Answer {
  if ((query.qtype === QTYPE.TXT || query.qtype === QTYPE.ANY) && CHAOS_IDS.has(query.qname)) {
    const d = draft('chaos', RCODE.NOERROR, true);
    d.rateName = query.qname;
    d.answer.push({ name: query.qname, type: QTYPE.TXT, cls: QCLASS.CH, ttl: 0, rdata: txtRdata(ctx.nodeName) });
    return d;
  }
  return draft('refused', RCODE.REFUSED, false);
}

/** Answers one decoded query from the snapshot. Never throws for any query. */
export function answerQuery(snapshot: Snapshot, query: Query, client: Client, ctx: AnswerContext): Answer {
  if (query.qclass === QCLASS.CH) return chaos(query, ctx);
  if (query.qclass !== QCLASS.IN && query.qclass !== QCLASS.ANY) return draft('refused', RCODE.REFUSED, false);
  const qtype = query.qtype;
  if (qtype === QTYPE.MAILA || qtype === QTYPE.MAILB) return draft('notimp', RCODE.NOTIMP, false);
  const firstZone = findZone(snapshot, query.qname);
  // Not an open resolver: names outside every zone, and zone transfers, are refused.
  if (!firstZone || qtype === QTYPE.AXFR || qtype === QTYPE.IXFR) return draft('refused', RCODE.REFUSED, false);

  const d = draft('answer', RCODE.NOERROR, true);
  d.zone = firstZone.name;
  d.rateName = query.qname;
  // Allocated only when a CNAME is followed: most answers never need it.
  let seenTargets: Set<string> | undefined;
  let name = query.qname;
  let zone: Zone = firstZone;
  for (let step = 0; step <= MAX_CHAIN; step++) {
    const cut = findCut(zone, name, qtype);
    if (cut !== undefined) {
      // A chased CNAME that leads below a cut stops; the resolver follows it from here.
      if (step === 0) referral(d, snapshot, zone, cut);
      return d;
    }
    const found = lookup(zone, name);
    if (!found.exists) {
      negative(d, zone, 'nxdomain', name);
      return d;
    }
    if (step === 0 && found.wildcard !== undefined) d.rateName = found.wildcard;
    if (found.wildcard !== undefined) (d.wildcards ??= new Map()).set(name, found.wildcard);
    if (found.dname !== undefined) {
      // RFC 6672 §3.2: the DNAME, then a CNAME synthesised with the DNAME's TTL, then the chase of its target.
      const owner = (found.node as ZoneNode).name;
      pushSet(d.answer, owner, found.dname);
      const target = substitute(name, owner, found.dname.targets[0]);
      if (target === undefined) {
        d.kind = 'yxdomain';
        d.rcode = RCODE.YXDOMAIN;
        return d;
      }
      d.answer.push({ name, type: QTYPE.CNAME, cls: QCLASS.IN, ttl: found.dname.ttl, rdata: nameToWire(target) });
      const next = findZone(snapshot, target);
      seenTargets ??= new Set([query.qname]);
      if (qtype === QTYPE.CNAME || !next || step === MAX_CHAIN || seenTargets.has(target)) return d;
      seenTargets.add(target);
      name = target;
      zone = next;
      continue;
    }
    const node = found.node;
    if (!node) {
      negative(d, zone, 'nodata', name);
      return d;
    }
    const cname = node.rrsets.get(QTYPE.CNAME);
    if (cname && qtype !== QTYPE.CNAME) {
      pushSet(d.answer, name, cname);
      const target = cname.targets[0];
      const next = findZone(snapshot, target);
      seenTargets ??= new Set([query.qname]);
      if (!next || step === MAX_CHAIN || seenTargets.has(target)) return d;
      seenTargets.add(target);
      name = target;
      zone = next;
      continue;
    }
    const type = qtype === QTYPE.ANY ? minimalAnyType(node) : qtype;
    if (node.pool && (type === QTYPE.A || type === QTYPE.AAAA)) {
      if (answerPool(d, name, node.pool, type, client, ctx)) return d;
    }
    // The SOA from the zone, never from the apex node, whose copy may be older (Zone.soa).
    const set = type === undefined ? undefined : type === QTYPE.SOA && node.name === zone.name ? zone.soa : node.rrsets.get(type);
    if (!set) {
      negative(d, zone, 'nodata', name);
      return d;
    }
    pushSet(d.answer, name, set);
    if (set.type === QTYPE.MX || set.type === QTYPE.SRV || set.type === QTYPE.NS) addTargets(snapshot, d, set.targets, new Set());
    return d;
  }
  return d;
}
