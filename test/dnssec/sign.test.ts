// The online signer without a network: the NSEC bitmap against RFC 4034 §4.3, canonical RDATA order, the signature
// cache's bound, recency and cost, and every signature of real answers checked with node:crypto against the zone's DNSKEY, the
// signed data rebuilt here from RFC 4034 §3.1.8.1 (not with the signer's own helpers).
import crypto from 'node:crypto';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { Answer, AnswerContext, RR } from '../../src/core/answer.js';
import { respond } from '../../src/core/respond.js';
import type { PoolMember, Snapshot } from '../../src/core/snapshot.js';
import { Keyring } from '../../src/dnssec/keyring.js';
import { encryptPrivateKey } from '../../src/dnssec/keys.js';
import { AnswerSigner, SignatureCache, canonicalRdata, nsecRdata } from '../../src/dnssec/sign.js';
import { createLogger } from '../../src/obs/log.js';
import { buildSnapshot } from '../../src/snapshot/build.js';
import type { RecordRow, ZoneRow } from '../../src/store/rows.js';
import { memberRow, poolRow } from '../explain/fixture.js';
import { buildQuery, type QueryOptions } from '../helpers/wire.js';

const T = { A: 1, NS: 2, CNAME: 5, SOA: 6, MX: 15, TXT: 16, AAAA: 28, DS: 43, RRSIG: 46, NSEC: 47, DNSKEY: 48, NXNAME: 128 } as const;
const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b);

/** Uncompressed, lower-cased wire form of a presentation name (no escapes: the test names have none). */
function wireName(name: string): Buffer {
  const labels = name.replace(/\.$/, '').split('.').filter((l) => l !== '');
  return Buffer.concat([...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l.toLowerCase(), 'latin1')])), Buffer.from([0])]);
}

describe('NSEC RDATA', () => {
  it('encodes the RFC 4034 §4.3 example (host.example.com. NSEC host.example.com. A MX RRSIG NSEC TYPE1234) octet for octet', () => {
    // The RDATA as printed in RFC 4034 §4.3.
    const rfc = Buffer.from([
      0x04, 0x68, 0x6f, 0x73, 0x74, 0x07, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x03, 0x63, 0x6f, 0x6d, 0x00,
      0x00, 0x06, 0x40, 0x01, 0x00, 0x00, 0x00, 0x03,
      0x04, 0x1b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x20,
    ]);
    expect(Buffer.from(nsecRdata('host.example.com', [T.A, T.MX, T.RRSIG, T.NSEC, 1234]))).toEqual(rfc);
    // The order types are given in and repeats do not matter.
    expect(Buffer.from(nsecRdata('host.example.com', [1234, T.NSEC, T.A, T.RRSIG, T.MX, T.A]))).toEqual(rfc);
  });

  it('encodes the compact-denial bitmap (RRSIG NSEC NXNAME) in window 0, 17 octets long', () => {
    const rdata = Buffer.from(nsecRdata('\u0000.nosuch.example', [T.RRSIG, T.NSEC, T.NXNAME]));
    const next = wireName('x.nosuch.example');
    next[1] = 0; // "\000" as its one label octet
    expect(rdata.subarray(0, next.length)).toEqual(next);
    const bitmap = rdata.subarray(next.length);
    // Window 0, length 17: RRSIG (46) and NSEC (47) in octet 5, NXNAME (128) the top bit of octet 16.
    expect([...bitmap]).toEqual([0, 17, 0, 0, 0, 0, 0, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80]);
  });
});

describe('canonicalRdata', () => {
  it('sorts as left-justified unsigned octet strings (a shorter prefix first) and drops duplicates, leaving its input alone', () => {
    const input = [bytes(2), bytes(1, 0), bytes(0xff), bytes(1), bytes(2), bytes(1, 0), bytes(0x80, 0), bytes(1)];
    const copy = input.map((b) => Uint8Array.from(b));
    const out = canonicalRdata(input).map((b) => [...b]);
    expect(out).toEqual([[1], [1, 0], [2], [0x80, 0], [0xff]]);
    expect(input).toEqual(copy);
    expect(canonicalRdata([])).toEqual([]);
  });

  it('orders A records by address octets, not as text would (192.0.2.10 after 192.0.2.9)', () => {
    const out = canonicalRdata([bytes(192, 0, 2, 10), bytes(192, 0, 2, 9), bytes(10, 0, 0, 1), bytes(192, 0, 2, 9)]);
    expect(out.map((b) => [...b].join('.'))).toEqual(['10.0.0.1', '192.0.2.9', '192.0.2.10']);
  });
});

describe('SignatureCache', () => {
  const k = (text: string): Buffer => Buffer.from(text, 'latin1');
  const v = (n: number, fill = n & 0xff): Buffer => Buffer.alloc(n, fill);
  // An entry's bytes in the ring: a 12-octet header, its key and its value.
  const entry = (key: string, value: number): number => 12 + key.length + value;

  it("gives back what was set, as a copy; replacing a key's value counts its bytes once", () => {
    const cache = new SignatureCache(4096);
    cache.set(k('a'), v(100, 7));
    const got = cache.get(k('a'))!;
    expect(got).toEqual(v(100, 7));
    // A copy: the caller may keep or change it without touching the cache.
    got.fill(0);
    expect(cache.get(k('a'))).toEqual(v(100, 7));
    expect(cache.get(k('b'))).toBeUndefined();
    expect([cache.size, cache.bytes]).toEqual([1, entry('a', 100)]);
    cache.set(k('a'), v(10, 9));
    expect(cache.get(k('a'))).toEqual(v(10, 9));
    expect([cache.size, cache.bytes]).toEqual([1, entry('a', 10)]);
    // The key's length is part of it, and only the first keyLength octets count.
    cache.set(k('ab'), v(5, 1));
    expect(cache.get(k('abc'), 2)).toEqual(v(5, 1));
    expect(cache.get(k('a'))).toEqual(v(10, 9));
  });

  it('drops the oldest entries first once full; an entry read again stays however often the ring turns over', () => {
    // 1,000-byte entries in a 16 KiB ring: 16 fit.
    const cache = new SignatureCache(16 * 1024);
    const key = (n: number): Buffer => k(`cold-${String(n).padStart(6, '0')}`);
    cache.set(k('hot'), v(988, 1));
    for (let n = 0; n < 2000; n++) {
      cache.set(key(n), v(988 - key(n).length + 3, n));
      expect(cache.get(k('hot')), `after insert ${n}`).toEqual(v(988, 1));
      expect(cache.bytes).toBeLessThanOrEqual(16 * 1024);
    }
    // The newest ones are there, in full; the old ones are gone.
    for (let n = 1994; n < 2000; n++) expect(cache.get(key(n))).toEqual(v(988 - key(n).length + 3, n));
    for (let n = 0; n < 1980; n++) expect(cache.get(key(n))).toBeUndefined();
    expect(cache.size).toBeGreaterThanOrEqual(10);
  });

  it('never returns a wrong value and keeps every recent entry (200,000 random sets, gets and replacements)', () => {
    const max = 64 * 1024;
    const cache = new SignatureCache(max);
    const last = new Map<string, Buffer>();
    const recent: string[] = [];
    let seed = 11;
    const rand = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
    for (let op = 0; op < 200_000; op++) {
      const name = `key${rand(5000)}`;
      if (rand(2) === 0) {
        const got = cache.get(k(name));
        // Whatever comes back is the value last set for that key, never another key's or an older one.
        if (got !== undefined) expect(got.equals(last.get(name)!), `${name} at op ${op}`).toBe(true);
      } else {
        const value = v(1 + rand(300), rand(256));
        cache.set(k(name), value);
        last.set(name, value);
        recent.push(name);
        if (recent.length > 100) recent.shift();
      }
      expect(cache.bytes).toBeLessThanOrEqual(max);
      // The last 100 keys set (at most 100 × 320 bytes, under half the ring) are all there.
      if (op % 1000 === 999) for (const r of recent) expect(cache.get(k(r))?.equals(last.get(r)!), `${r} at op ${op}`).toBe(true);
    }
  });

  it('does not cache an entry larger than an eighth of the ring (it is signed every time instead)', () => {
    const cache = new SignatureCache(8192);
    cache.set(k('big'), v(1100));
    expect(cache.get(k('big'))).toBeUndefined();
    cache.set(k('fits'), v(1000));
    expect(cache.get(k('fits'))).toEqual(v(1000));
  });

  // 24 MiB: about 130,000 entries.
  it.for([
    // 1 MiB: 6.7 ms median seen in a full CI run on the 2-core VM at half its usual speed; an insert that walked the
    // cache's entries would be orders of magnitude over either bound.
    { mib: 1, medianMs: 10 },
    { mib: 24, medianMs: 15 },
  ])('1,000,000 inserts into a $mib MiB cache: never above the bound, and each 10,000 inserts take a few ms however full it is', ({ mib, medianMs }) => {
    const max = mib * 1024 * 1024;
    const cache = new SignatureCache(max);
    const sig = new Uint8Array(64 + 18 + 9);
    const keyOf = (n: number): Buffer => Buffer.from(`12345|example.test|host${n}.example.test|1|300|1767225600|\u00c0\u0000\u0002${n}`, 'latin1');
    const batches: number[] = [];
    let over = 0;
    let i = 0;
    const keys: Buffer[] = new Array(10_000);
    for (let b = 0; b < 100; b++) {
      // The keys are made outside the timed part: what is timed is the cache alone.
      for (let n = 0; n < 10_000; n++) keys[n] = keyOf(i + n);
      // CPU time of this process (garbage collection included), not wall time: other processes on a busy machine
      // do not count against the cache.
      const t0 = process.cpuUsage();
      for (let n = 0; n < 10_000; n++) cache.set(keys[n], sig);
      const t = process.cpuUsage(t0);
      batches.push((t.user + t.system) / 1000);
      i += 10_000;
      if (cache.bytes > max) over++;
    }
    expect(over).toBe(0);
    // Full after the first few thousand inserts: every later insert dropped what it had to, and no more than that.
    const longest = 12 + keyOf(i).length + sig.length;
    expect(cache.size).toBeGreaterThan(max / longest - 2);
    expect(cache.bytes).toBeGreaterThan(max - 2 * longest);
    // The newest entry is there, the oldest long gone.
    expect(cache.get(keyOf(i - 1))).toEqual(Buffer.from(sig));
    expect(cache.get(keyOf(0))).toBeUndefined();
    // O(1) per insert, however many entries the cache holds: the median batch is "a few ms", and nine in ten stay
    // within a few times that (room for garbage collection, none for skipping over the cache's entries).
    const sorted = [...batches].sort((a, b) => a - b);
    const times = `CPU ms per batch: ${batches.map((t) => t.toFixed(1)).join(' ')}`;
    expect(sorted[50], times).toBeLessThan(medianMs);
    expect(sorted[90], times).toBeLessThan(3 * medianMs);
  });
});

// ---- Answers from a snapshot, signed, and verified here -------------------------------------------------------

const ZONE: ZoneRow = { id: 1, name: 'sig.test', mname: 'ns1.sig.test', rname: 'hostmaster.sig.test', serial: 7, refresh: 3600, retry: 600, expire: 86400, minimum: 300, ttl: 300 };
let rid = 1;
const rec = (name: string, type: string, content: string, ttl: number | null = null): RecordRow => ({ id: rid++, zoneId: 1, name, type, ttl, content });
const RECORDS: RecordRow[] = [
  rec('sig.test', 'NS', 'ns1.sig.test'),
  rec('ns1.sig.test', 'A', '192.0.2.53'),
  rec('sig.test', 'MX', '10 mail.sig.test'),
  rec('mail.sig.test', 'A', '192.0.2.25'),
  rec('www.sig.test', 'A', '192.0.2.10', 60),
  rec('www.sig.test', 'A', '192.0.2.9', 60),
  rec('www.sig.test', 'A', '192.0.2.200', 60),
  rec('chain.sig.test', 'CNAME', 'chain2.sig.test'),
  rec('chain2.sig.test', 'CNAME', 'www.sig.test'),
  rec('*.wild.sig.test', 'A', '192.0.2.90'),
  rec('*.wild.sig.test', 'TXT', '"wild"'),
  rec('sub.sig.test', 'NS', 'ns.sub.sig.test'),
  rec('ns.sub.sig.test', 'A', '192.0.2.100'),
  rec('sub.sig.test', 'DS', '60485 13 2 D4B7D520E7BB5F0F67674A0CCEB1E3E0614B93C4F9E99B8383F6A1E4469DA50A'),
  rec('nods.sig.test', 'NS', 'ns.elsewhere.test'),
];
const POOL_MEMBERS = ['198.51.100.1', '198.51.100.2', '198.51.100.3', '198.51.100.4'];

/** A DNSKEY public key field made here from a fresh key pair (not with src/dnssec/keys.ts), and the private key. */
function keyPair(algorithm: 13 | 15): { publicKey: Uint8Array; privateKey: crypto.KeyObject; der: Uint8Array } {
  const pair = algorithm === 13 ? crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }) : crypto.generateKeyPairSync('ed25519');
  const jwk = pair.publicKey.export({ format: 'jwk' });
  const publicKey = algorithm === 13 ? Buffer.concat([Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]) : Buffer.from(jwk.x!, 'base64url');
  return { publicKey, privateKey: pair.privateKey, der: pair.privateKey.export({ format: 'der', type: 'pkcs8' }) };
}

/** RFC 4034 Appendix B, written out again. */
function tagOf(dnskey: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < dnskey.length; i++) sum += i % 2 === 0 ? dnskey[i] << 8 : dnskey[i];
  return (sum + (sum >> 16)) & 0xffff;
}

interface Fixture {
  readonly snapshot: Snapshot;
  readonly ctx: AnswerContext;
  readonly cache: SignatureCache;
  readonly dnskey: Uint8Array;
  /** Which members, in which order, the next pool answer holds. */
  pick: (members: readonly PoolMember[]) => PoolMember[];
}

function fixture(algorithm: 13 | 15): Fixture {
  const SECRET = 'sign test secret, not a real one';
  const { publicKey, der } = keyPair(algorithm);
  const dnskey = Buffer.concat([Buffer.from([1, 1, 3, algorithm]), publicKey]);
  const { snapshot, skipped } = buildSnapshot({
    version: 1,
    zones: [ZONE],
    records: RECORDS,
    pools: [poolRow(1, 'pool.sig.test', 'wrr', { zoneId: 1, count: 4 })],
    members: POOL_MEMBERS.map((a, i) => memberRow(i + 1, 1, a, null)),
    dnssecKeys: [{ zoneId: 1, algorithm, flags: 257, keyTag: tagOf(dnskey), publicKey, privateKey: encryptPrivateKey(der, SECRET) }],
  });
  expect(skipped).toEqual([]);
  const cache = new SignatureCache(1024 * 1024);
  const keyring = new Keyring({ secret: SECRET, log: createLogger('silent', new Writable({ write: (_c, _e, cb) => cb() })) });
  keyring.warm(snapshot);
  const f: Fixture = {
    snapshot,
    cache,
    dnskey,
    pick: (m) => [...m],
    ctx: {
      nodeName: 'sign-test',
      choose: (pool, family) => ({ members: f.pick(pool.members.filter((x) => x.family === family)), scope: 0, allDown: false }),
      dnssec: new AnswerSigner({ cache, signerFor: keyring.signerFor }),
    },
  };
  return f;
}

function ask(f: Fixture, name: string, qtype: number, dnssecOk = true): Answer {
  const q: QueryOptions = { name, qtype, edns: { udpSize: 4096, dnssecOk } };
  const out = respond(f.snapshot, buildQuery(q), '192.0.2.200', false, f.ctx);
  expect(out.answer, `an answer for ${name}/${qtype}`).toBeDefined();
  return out.answer!;
}

interface ParsedRrsig {
  readonly typeCovered: number;
  readonly algorithm: number;
  readonly labels: number;
  readonly originalTtl: number;
  readonly expiration: number;
  readonly inception: number;
  readonly keyTag: number;
  readonly signer: string;
  /** RDATA up to the signature: the first part of the signed data. */
  readonly head: Buffer;
  readonly signature: Buffer;
}

function parseRrsig(rdata: Uint8Array): ParsedRrsig {
  const b = Buffer.from(rdata);
  let o = 18;
  const labels: string[] = [];
  while (b[o] !== 0) {
    labels.push(b.subarray(o + 1, o + 1 + b[o]).toString('latin1'));
    o += 1 + b[o];
  }
  o++;
  return {
    typeCovered: b.readUInt16BE(0),
    algorithm: b[2],
    labels: b[3],
    originalTtl: b.readUInt32BE(4),
    expiration: b.readUInt32BE(8),
    inception: b.readUInt32BE(12),
    keyTag: b.readUInt16BE(16),
    signer: labels.join('.'),
    head: b.subarray(0, o),
    signature: b.subarray(o),
  };
}

/** A validator's public key from the DNSKEY RDATA alone. */
function publicKeyOf(dnskey: Uint8Array): crypto.KeyObject {
  const pub = Buffer.from(dnskey.subarray(4));
  if (dnskey[3] === 13) {
    return crypto.createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: pub.subarray(0, 32).toString('base64url'), y: pub.subarray(32).toString('base64url') }, format: 'jwk' });
  }
  return crypto.createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: pub.toString('base64url') }, format: 'jwk' });
}

/** RFC 4034 §3.1.8.1: RRSIG RDATA without the signature, then each RR of the set in canonical form and order. */
function signedData(sig: ParsedRrsig, owner: string, rrs: readonly RR[]): Buffer {
  const ownerLabels = owner.split('.');
  // §3.1.3 / RFC 4035 §5.3.2: fewer labels than the owner has means the RRset came from "*.<rightmost labels>".
  const signedOwner = sig.labels < ownerLabels.length ? ['*', ...ownerLabels.slice(ownerLabels.length - sig.labels)].join('.') : owner;
  const ownerWire = wireName(signedOwner);
  const rdatas = rrs.map((r) => Buffer.from(r.rdata));
  rdatas.sort(Buffer.compare);
  const unique = rdatas.filter((r, i) => i === 0 || !r.equals(rdatas[i - 1]));
  const parts: Buffer[] = [sig.head];
  for (const r of unique) {
    const fixed = Buffer.alloc(10);
    fixed.writeUInt16BE(sig.typeCovered, 0);
    fixed.writeUInt16BE(1, 2);
    fixed.writeUInt32BE(sig.originalTtl, 4);
    fixed.writeUInt16BE(r.length, 8);
    parts.push(ownerWire, fixed, r);
  }
  return Buffer.concat(parts);
}

function verifies(dnskey: Uint8Array, data: Buffer, signature: Buffer): boolean {
  const key = publicKeyOf(dnskey);
  return dnskey[3] === 13 ? crypto.verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature) : crypto.verify(null, data, key, signature);
}

/**
 * Checks every RRSIG in the answer and authority sections against the RRset it covers, as a validator would: key tag,
 * algorithm, signer, validity around now, the label count, and the signature itself. Returns what was checked.
 */
function verifyAll(f: Fixture, ans: Answer): string[] {
  const checked: string[] = [];
  const nowSec = Math.floor(Date.now() / 1000);
  for (const section of [ans.answer, ans.authority]) {
    for (const rr of section.filter((r) => r.type === T.RRSIG)) {
      const sig = parseRrsig(rr.rdata);
      const set = section.filter((r) => r.name === rr.name && r.type === sig.typeCovered);
      expect(set.length, `the RRset ${rr.name}/${sig.typeCovered} beside its RRSIG`).toBeGreaterThan(0);
      expect(sig.algorithm).toBe(f.dnskey[3]);
      expect(sig.keyTag).toBe(tagOf(f.dnskey));
      expect(sig.signer).toBe('sig.test');
      expect(sig.originalTtl).toBe(set[0].ttl);
      expect(rr.ttl).toBe(set[0].ttl);
      expect(sig.labels).toBeLessThanOrEqual(rr.name.split('.').length);
      expect(sig.inception).toBeLessThanOrEqual(nowSec);
      expect(sig.expiration).toBeGreaterThan(nowSec + 6 * 86400);
      const data = signedData(sig, rr.name, set);
      expect(verifies(f.dnskey, data, sig.signature), `RRSIG over ${rr.name}/${sig.typeCovered} verifies`).toBe(true);
      // The check itself can fail: one flipped bit in the covered data is rejected.
      const tampered = Buffer.from(data);
      tampered[tampered.length - 1] ^= 1;
      expect(verifies(f.dnskey, tampered, sig.signature)).toBe(false);
      checked.push(`${rr.name}/${sig.typeCovered}/${sig.labels}`);
    }
  }
  return checked;
}

/** The NSEC RRs of a section as owner, next name and the types its bitmap holds (decoded here). */
function nsecs(rrs: readonly RR[]): { owner: string; next: Buffer; types: number[] }[] {
  return rrs
    .filter((r) => r.type === T.NSEC)
    .map((r) => {
      const b = Buffer.from(r.rdata);
      let o = 0;
      while (b[o] !== 0) o += 1 + b[o];
      o++;
      const next = b.subarray(0, o);
      const types: number[] = [];
      while (o < b.length) {
        const window = b[o];
        const len = b[o + 1];
        for (let i = 0; i < len; i++) for (let bit = 0; bit < 8; bit++) if (b[o + 2 + i] & (0x80 >> bit)) types.push(window * 256 + i * 8 + bit);
        o += 2 + len;
      }
      return { owner: r.name, next, types };
    });
}

const labelsOf = (name: string): string[] => name.split('.');

function wireLabels(wire: Buffer): string[] {
  const out: string[] = [];
  for (let o = 0; wire[o] !== 0; o += 1 + wire[o]) out.push(wire.subarray(o + 1, o + 1 + wire[o]).toString('latin1'));
  return out;
}

/** RFC 4034 §6.1: labels compared from the right as lower-cased octet strings, a missing label first. */
function canonicalCompare(a: readonly string[], b: readonly string[]): number {
  for (let i = 1; i <= Math.max(a.length, b.length); i++) {
    if (i > a.length) return -1;
    if (i > b.length) return 1;
    const c = Buffer.compare(Buffer.from(a[a.length - i].toLowerCase(), 'latin1'), Buffer.from(b[b.length - i].toLowerCase(), 'latin1'));
    if (c !== 0) return c;
  }
  return 0;
}

const rrsigsOf = (rrs: readonly RR[]): string[] => rrs.filter((r) => r.type === T.RRSIG).map((r) => `${r.name}/${parseRrsig(r.rdata).typeCovered}`);

describe.for([13, 15] as const)('AnswerSigner, algorithm %i', (algorithm) => {
  it('signs one member set listed in two orders with one signature: the second is a cache hit, the same bytes', () => {
    const f = fixture(algorithm);
    // What wrr's rotation does to the order of one member set.
    f.pick = (m) => [...m];
    const first = ask(f, 'pool.sig.test', T.A);
    f.pick = (m) => [...m.slice(2), ...m.slice(0, 2)].reverse();
    const second = ask(f, 'pool.sig.test', T.A);
    const members = (a: Answer) => a.answer.filter((r) => r.type === T.A).map((r) => [...r.rdata].join('.'));
    expect(members(first)).toHaveLength(4);
    // Really two orders of one set.
    expect(members(second)).not.toEqual(members(first));
    expect([...members(second)].sort()).toEqual([...members(first)].sort());
    const sigOf = (a: Answer) => Buffer.from(a.answer.find((r) => r.type === T.RRSIG)!.rdata);
    expect({ misses: f.cache.misses, hits: f.cache.hits }).toEqual({ misses: 1, hits: 1 });
    // ECDSA signatures are randomised: equal bytes can only come from the cache (Ed25519's are equal either way).
    expect(sigOf(second).equals(sigOf(first))).toBe(true);
    expect(verifyAll(f, first)).toEqual(['pool.sig.test/1/3']);
    expect(verifyAll(f, second)).toEqual(['pool.sig.test/1/3']);
    // Another member set is another RRset: a new signature, which verifies too.
    f.pick = (m) => m.slice(1);
    const fewer = ask(f, 'pool.sig.test', T.A);
    expect(members(fewer)).toHaveLength(3);
    expect({ misses: f.cache.misses, hits: f.cache.hits }).toEqual({ misses: 2, hits: 1 });
    expect(sigOf(fewer).equals(sigOf(first))).toBe(false);
    expect(verifyAll(f, fewer)).toEqual(['pool.sig.test/1/3']);
  });

  it('every RRSIG of static, pool, CNAME-chain, MX, DNSKEY, wildcard and referral answers verifies against the DNSKEY', () => {
    const f = fixture(algorithm);
    const dnskeyAnswer = ask(f, 'sig.test', T.DNSKEY);
    expect(dnskeyAnswer.answer.filter((r) => r.type === T.DNSKEY).map((r) => Buffer.from(r.rdata))).toEqual([Buffer.from(f.dnskey)]);
    expect(verifyAll(f, dnskeyAnswer)).toEqual(['sig.test/48/2']);

    const www = ask(f, 'www.sig.test', T.A);
    expect(www.answer.filter((r) => r.type === T.A)).toHaveLength(3);
    expect(verifyAll(f, www)).toEqual(['www.sig.test/1/3']);

    expect(verifyAll(f, ask(f, 'pool.sig.test', T.A))).toEqual(['pool.sig.test/1/3']);
    expect(verifyAll(f, ask(f, 'sig.test', T.MX))).toEqual(['sig.test/15/2']);
    expect(verifyAll(f, ask(f, 'sig.test', T.NS))).toEqual(['sig.test/2/2']);
    expect(verifyAll(f, ask(f, 'sig.test', T.SOA))).toEqual(['sig.test/6/2']);

    const chain = ask(f, 'chain.sig.test', T.A);
    expect(verifyAll(f, chain)).toEqual(['chain.sig.test/5/3', 'chain2.sig.test/5/3', 'www.sig.test/1/3']);

    // Wildcards: the RRSIG's label count is the wildcard's (3 for *.wild.sig.test), and an NSEC proves the asked
    // name itself does not exist without denying the wildcard.
    for (const name of ['x.wild.sig.test', 'a.b.wild.sig.test']) {
      const w = ask(f, name, T.A);
      expect(w.answer.filter((r) => r.type === T.A).map((r) => [...r.rdata].join('.'))).toEqual(['192.0.2.90']);
      const checked = verifyAll(f, w);
      expect(checked).toContain(`${name}/1/3`);
      expect(checked).toContain('+.wild.sig.test/47/4');
      const proof = nsecs(w.authority);
      expect(proof).toHaveLength(1);
      // RFC 4035 §5.3.4: the NSEC covers the asked name (owner < name < next in canonical order) and not the
      // wildcard that answered (it sorts before the owner), and next shares no more labels with the name than the
      // closest encloser wild.sig.test does.
      const [{ owner, next }] = proof;
      expect(canonicalCompare(labelsOf(owner), labelsOf(name))).toBeLessThan(0);
      expect(canonicalCompare(labelsOf(name), wireLabels(next))).toBeLessThan(0);
      expect(canonicalCompare(labelsOf('*.wild.sig.test'), labelsOf(owner))).toBeLessThan(0);
      expect(wireLabels(next).slice(-3)).toEqual(['wild', 'sig', 'test']);
      expect(wireLabels(next).length).toBe(4);
    }

    // A delegation with a DS: the DS RRset signed, the NS RRset (the child's) not.
    const ref = ask(f, 'www.sub.sig.test', T.A);
    expect(ref.kind).toBe('referral');
    expect(rrsigsOf(ref.authority)).toEqual(['sub.sig.test/43']);
    expect(verifyAll(f, ref)).toEqual(['sub.sig.test/43/3']);
    // Without a DS: an NSEC at the cut holding NS RRSIG NSEC, signed.
    const insecure = ask(f, 'www.nods.sig.test', T.A);
    expect(rrsigsOf(insecure.authority)).toEqual(['nods.sig.test/47']);
    expect(nsecs(insecure.authority).map((n) => [n.owner, n.types])).toEqual([['nods.sig.test', [T.NS, T.RRSIG, T.NSEC]]]);
    expect(verifyAll(f, insecure)).toEqual(['nods.sig.test/47/3']);
  });

  it('denies with one signed NSEC: NXNAME for a name that does not exist (NOERROR), the types held for NODATA', () => {
    const f = fixture(algorithm);
    const nx = ask(f, 'nosuch.sig.test', T.A);
    expect(nx.rcode).toBe(0);
    expect(nx.answer).toEqual([]);
    const [denial, ...more] = nsecs(nx.authority);
    expect(more).toEqual([]);
    expect(denial.owner).toBe('nosuch.sig.test');
    expect(denial.next).toEqual(Buffer.concat([Buffer.from([1, 0]), wireName('nosuch.sig.test')]));
    expect(denial.types).toEqual([T.RRSIG, T.NSEC, T.NXNAME]);
    expect(verifyAll(f, nx).sort()).toEqual(['nosuch.sig.test/47/3', 'sig.test/6/2']);

    const nodata = ask(f, 'www.sig.test', T.AAAA);
    expect(nodata.rcode).toBe(0);
    expect(nodata.answer).toEqual([]);
    expect(nsecs(nodata.authority).map((n) => [n.owner, n.types])).toEqual([['www.sig.test', [T.A, T.RRSIG, T.NSEC]]]);
    expect(verifyAll(f, nodata).sort()).toEqual(['sig.test/6/2', 'www.sig.test/47/3']);

    // A pool name holds the address types its enabled members have (IPv4 only here): NODATA for MX and for AAAA
    // lists A, and never the type it denies.
    for (const qtype of [T.MX, T.AAAA]) {
      const poolNodata = ask(f, 'pool.sig.test', qtype);
      expect(poolNodata.answer).toEqual([]);
      expect(nsecs(poolNodata.authority).map((n) => n.types)).toEqual([[T.A, T.RRSIG, T.NSEC]]);
      expect(verifyAll(f, poolNodata)).toHaveLength(2);
    }
  });

  it('signs nothing for a query without DO', () => {
    const f = fixture(algorithm);
    for (const [name, qtype] of [['www.sig.test', T.A], ['nosuch.sig.test', T.A], ['x.wild.sig.test', T.A], ['sig.test', T.DNSKEY]] as const) {
      const a = ask(f, name, qtype, false);
      expect([...a.answer, ...a.authority].filter((r) => r.type === T.RRSIG || r.type === T.NSEC)).toEqual([]);
    }
    expect(f.cache.misses + f.cache.hits).toBe(0);
  });
});
