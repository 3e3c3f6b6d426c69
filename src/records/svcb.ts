// SVCB and HTTPS (RFC 9460): SvcPriority, TargetName and SvcParams, text to wire and back, with §2.1, §2.4 and §7-8 rules.
import type { Field } from './character-string.js';
import { fieldBytes } from './character-string.js';
import { canonicalIPv6, formatIPv6Groups, ipv6ToBytes, parseIPv4 } from './ip-address.js';
import { RdataReader, RdataWriter } from './wire.js';
import { base64, base64Fields, fail, nameField, nameText, show, uintField, unquotedText } from './text-fields.js';

/** RFC 9460 §14.3.2 registry entries with presentation names; later keys are written keyNNNNN. */
const KEY_NAMES = ['mandatory', 'alpn', 'no-default-alpn', 'port', 'ipv4hint', 'ech', 'ipv6hint'] as const;
const KEY = Object.fromEntries(KEY_NAMES.map((n, i) => [n, i])) as Readonly<Record<(typeof KEY_NAMES)[number], number>>;
/** Accepted on input (RFC 9461 dohpath, RFC 9540 ohttp), written as key7/key8 so that any reader takes them. */
const INPUT_ALIASES: Readonly<Record<string, number>> = { dohpath: 7, ohttp: 8 };
/** §14.3.2: 65535 is reserved as "Invalid key". */
const INVALID_KEY = 65535;

function keyNumber(name: string, what: string): number {
  const lower = name.toLowerCase();
  const named = (KEY as Record<string, number>)[lower] ?? INPUT_ALIASES[lower];
  if (named !== undefined) return named;
  const m = /^key(0|[1-9][0-9]{0,4})$/.exec(lower);
  if (m === null || Number(m[1]) >= INVALID_KEY) fail(`${what}: ${show(name)} is not a SvcParamKey (a name of RFC 9460 or keyNNNNN below 65535)`);
  return Number(m[1]);
}

const keyName = (key: number): string => KEY_NAMES[key] ?? `key${key}`;

/** RFC 9460 Appendix A.1: a comma-separated list where "\," and "\\" stand for themselves. */
function splitValueList(value: Uint8Array): Uint8Array[] {
  const items: Uint8Array[] = [];
  let cur: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === 0x5c && i + 1 < value.length) cur.push(value[++i]);
    else if (c === 0x2c) {
      items.push(Uint8Array.from(cur));
      cur = [];
    } else cur.push(c);
  }
  items.push(Uint8Array.from(cur));
  return items;
}

const latin1 = (b: Uint8Array): string => Buffer.from(b).toString('latin1');

/** One SvcParam's wire value from its presentation value (already unescaped as a <char-string>). */
function paramValue(key: number, value: Uint8Array | undefined, what: string): Uint8Array {
  const name = keyName(key);
  const needValue = (): Uint8Array => (value !== undefined && value.length > 0 ? value : fail(`${what}: ${name} needs a value`));
  const w = new RdataWriter();
  switch (key) {
    case KEY.mandatory: {
      const keys = latin1(needValue()).split(',').map((k) => keyNumber(k, what));
      if (keys.includes(KEY.mandatory)) fail(`${what}: mandatory must not list "mandatory" itself (RFC 9460 §8)`);
      if (new Set(keys).size !== keys.length) fail(`${what}: mandatory lists a key twice`);
      for (const k of keys.sort((a, b) => a - b)) w.u16(k);
      return w.done();
    }
    case KEY.alpn:
      for (const id of splitValueList(needValue())) {
        if (id.length === 0 || id.length > 255) fail(`${what}: an alpn protocol id must be 1 to 255 octets`);
        w.string(id);
      }
      return w.done();
    case KEY['no-default-alpn']:
      if (value !== undefined && value.length > 0) fail(`${what}: no-default-alpn takes no value`);
      return w.done();
    case KEY.port:
      return w.u16(uintField({ raw: latin1(needValue()), quoted: false }, 65535, `${what}: port`)).done();
    case KEY.ipv4hint:
      for (const a of latin1(needValue()).split(',')) {
        const ip = parseIPv4(a) ?? fail(`${what}: ipv4hint ${show(a)} is not an IPv4 address`);
        for (const o of ip.split('.')) w.u8(Number(o));
      }
      return w.done();
    case KEY.ech:
      return base64Fields([{ raw: latin1(needValue()), quoted: false }], `${what}: ech`);
    case KEY.ipv6hint:
      for (const a of latin1(needValue()).split(',')) {
        if (canonicalIPv6(a) === undefined) fail(`${what}: ipv6hint ${show(a)} is not an IPv6 address`);
        w.bytes(ipv6ToBytes(a));
      }
      return w.done();
    default:
      return value ?? new Uint8Array(0);
  }
}

/** The presentation value of a SvcParam read from the wire, after checking its format (§7, RFC 9460). */
function valueText(key: number, v: Uint8Array, r: RdataReader): string {
  const bad = (problem: string): never => r.fail(`SvcParam ${keyName(key)} ${problem}`);
  switch (key) {
    case KEY.mandatory: {
      if (v.length === 0 || v.length % 2 !== 0) bad('must be a non-empty list of 2-octet keys');
      const keys: number[] = [];
      for (let i = 0; i < v.length; i += 2) keys.push((v[i] << 8) | v[i + 1]);
      if (keys.some((k, i) => k === KEY.mandatory || (i > 0 && k <= keys[i - 1]))) bad('must list keys other than itself, in increasing order');
      return keys.map(keyName).join(',');
    }
    case KEY.alpn: {
      if (v.length === 0) bad('must not be empty');
      const ids: string[] = [];
      for (let i = 0; i < v.length; ) {
        const len = v[i];
        if (len === 0 || i + 1 + len > v.length) bad('holds an empty or overrunning protocol id');
        // Value-list escaping first (Appendix A.1), then <char-string> escaping of the result.
        const id = latin1(v.subarray(i + 1, i + 1 + len)).replace(/[\\,]/g, '\\$&');
        ids.push(id);
        i += 1 + len;
      }
      return unquotedText(Buffer.from(ids.join(','), 'latin1'));
    }
    case KEY['no-default-alpn']:
      return v.length === 0 ? '' : bad('must be empty');
    case KEY.port:
      return v.length === 2 ? String((v[0] << 8) | v[1]) : bad('must be 2 octets');
    case KEY.ipv4hint:
      if (v.length === 0 || v.length % 4 !== 0) bad('must be a non-empty list of 4-octet addresses');
      return Array.from({ length: v.length / 4 }, (_, i) => v.subarray(i * 4, i * 4 + 4).join('.')).join(',');
    case KEY.ech:
      return v.length > 0 ? base64(v) : bad('must not be empty');
    case KEY.ipv6hint:
      if (v.length === 0 || v.length % 16 !== 0) bad('must be a non-empty list of 16-octet addresses');
      return Array.from({ length: v.length / 16 }, (_, i) => {
        const a = v.subarray(i * 16, i * 16 + 16);
        return formatIPv6Groups(Array.from({ length: 8 }, (_, g) => (a[g * 2] << 8) | a[g * 2 + 1]));
      }).join(',');
    default:
      return unquotedText(v);
  }
}

/** §2.4.3 and §8: every key named in mandatory is present; §7.1.1: no-default-alpn only beside alpn. */
function checkConsistent(keys: readonly number[], mandatory: readonly number[], fault: (problem: string) => never): void {
  for (const k of mandatory) if (!keys.includes(k)) fault(`lists ${keyName(k)} as mandatory but does not hold it`);
  if (keys.includes(KEY['no-default-alpn']) && !keys.includes(KEY.alpn)) fault('holds no-default-alpn without alpn');
}

export function svcbFromText(type: string, fields: readonly Field[], origin: string | undefined): Uint8Array {
  const what = `${type} record`;
  const priority = uintField(fields[0], 65535, `${type} priority`);
  const target = nameField(fields[1], origin, true, `${type} target`);
  const params = new Map<number, Uint8Array>();
  for (const f of fields.slice(2)) {
    const eq = f.raw.indexOf('=');
    if (f.quoted) fail(`${what}: SvcParam ${show(f.raw)} must be key or key=value`);
    const key = keyNumber(eq < 0 ? f.raw : f.raw.slice(0, eq), what);
    if (params.has(key)) fail(`${what}: SvcParam ${keyName(key)} appears twice (RFC 9460 §2.1)`);
    let value: Uint8Array | undefined;
    if (eq >= 0) {
      const raw = f.raw.slice(eq + 1);
      const quoted = raw.startsWith('"');
      if (quoted && (raw.length < 2 || !raw.endsWith('"'))) fail(`${what}: SvcParam ${show(f.raw)} has an unterminated quote`);
      value = fieldBytes({ raw, quoted }, `${what} SvcParam ${keyName(key)}`);
    }
    params.set(key, paramValue(key, value, what));
  }
  const keys = [...params.keys()].sort((a, b) => a - b);
  const mandatory = params.get(KEY.mandatory);
  const listed = mandatory === undefined ? [] : Array.from({ length: mandatory.length / 2 }, (_, i) => (mandatory[i * 2] << 8) | mandatory[i * 2 + 1]);
  checkConsistent(keys, listed, (p) => fail(`${what} ${p} (RFC 9460 §8)`));
  const w = new RdataWriter().u16(priority).name(target);
  // §2.2: SvcParams go on the wire in strictly increasing key order, whatever order the text had.
  for (const k of keys) {
    const v = params.get(k) as Uint8Array;
    if (v.length > 65535) fail(`${what}: SvcParam ${keyName(k)} exceeds 65535 octets`);
    w.u16(k).u16(v.length).bytes(v);
  }
  return w.done();
}

export function svcbToText(type: string, rdata: Uint8Array, file: boolean): string {
  const r = new RdataReader(rdata, type);
  const priority = r.u16();
  const target = r.name();
  const keys: number[] = [];
  const parts = [String(priority), nameText(target, file)];
  let listed: number[] = [];
  while (r.left > 0) {
    const key = r.u16();
    if (keys.length > 0 && key <= keys[keys.length - 1]) r.fail('has SvcParam keys out of increasing order (RFC 9460 §2.2)');
    if (key === INVALID_KEY) r.fail('uses the reserved key 65535');
    const v = r.bytes(r.u16());
    keys.push(key);
    if (key === KEY.mandatory) listed = Array.from({ length: v.length / 2 }, (_, i) => (v[i * 2] << 8) | v[i * 2 + 1]);
    const text = valueText(key, v, r);
    parts.push(text === '' ? keyName(key) : `${keyName(key)}=${text}`);
  }
  checkConsistent(keys, listed, (p) => r.fail(p));
  return parts.join(' ');
}
