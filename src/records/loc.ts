// LOC (RFC 1876): location text "d m s.sss N d m s.sss E alt[m] [size[m] [hp[m] [vp[m]]]]" to and from its 16 octets.
import type { Field } from './character-string.js';
import { RdataReader, RdataWriter } from './wire.js';
import { fail, show } from './text-fields.js';

const EQUATOR = 2 ** 31;
const MS_PER_DEGREE = 3_600_000;
/** Altitude is carried in cm above a base 100,000 m below the WGS 84 spheroid (RFC 1876 §2). */
const ALT_BASE_CM = 10_000_000;
const MAX_ALT_CM = 0xffffffff - ALT_BASE_CM;
/** §3 defaults: size 1 m, horizontal precision 10,000 m, vertical 10 m. */
const DEFAULT_SIZES = [0x12, 0x16, 0x13] as const;
const SIZE_NAMES = ['size', 'horizontal precision', 'vertical precision'] as const;

/** Centimetres of "12.34m"-style text; `signed` allows a minus. */
function centimetres(text: string, signed: boolean, what: string): number {
  const m = (signed ? /^(-?)([0-9]{1,9})(?:\.([0-9]{1,2}))?m?$/ : /^()([0-9]{1,9})(?:\.([0-9]{1,2}))?m?$/).exec(text);
  if (m === null) fail(`LOC ${what} ${show(text)} is not metres with at most two decimals`);
  const cm = Number(m[2]) * 100 + Number((m[3] ?? '').padEnd(2, '0'));
  return m[1] === '-' ? -cm : cm;
}

/** RFC 1876 §2: a size is one digit times a power of ten centimetres, as mantissa and exponent nibbles. */
function sizeByte(text: string, what: string): number {
  let cm = centimetres(text, false, what);
  if (cm > 9e9) fail(`LOC ${what} ${show(text)} exceeds 90000000m`);
  let exp = 0;
  while (cm >= 10 && cm % 10 === 0) {
    cm /= 10;
    exp++;
  }
  // Rounding it (as some servers do) would change the record behind the operator's back.
  if (cm > 9) fail(`LOC ${what} ${show(text)} is not one digit times a power of ten centimetres (e.g. 20m, 0.5m)`);
  return (cm << 4) | exp;
}

function sizeText(b: number, r: RdataReader, what: string): string {
  const mantissa = b >> 4;
  const exp = b & 0x0f;
  if (mantissa > 9 || exp > 9) r.fail(`has a ${what} octet 0x${b.toString(16)} whose digits exceed 9`);
  const cm = mantissa * 10 ** exp;
  return cm % 100 === 0 ? `${cm / 100}m` : `${Math.floor(cm / 100)}.${String(cm % 100).padStart(2, '0')}m`;
}

/** Reads "d [m [s.sss]] H" from fields[i..] and returns milliseconds of arc (negative south/west) and the next index. */
function angle(fields: readonly Field[], i: number, hemispheres: string, maxDegrees: number, what: string): [number, number] {
  const parts: string[] = [];
  while (i < fields.length && parts.length < 4) {
    const raw = fields[i].raw.toUpperCase();
    i++;
    if (raw.length === 1 && hemispheres.includes(raw)) {
      const [d = '', m = '0', s = '0'] = parts;
      if (!/^[0-9]{1,3}$/.test(d) || !/^[0-9]{1,2}$/.test(m) || !/^[0-9]{1,2}(\.[0-9]{1,3})?$/.test(s)) break;
      const ms = Number(d) * MS_PER_DEGREE + Number(m) * 60_000 + Math.round(Number(s) * 1000);
      if (Number(m) > 59 || Number(s) >= 60 || ms > maxDegrees * MS_PER_DEGREE) fail(`LOC ${what} ${show(parts.join(' '))} is out of range`);
      return [raw === hemispheres[1] ? -ms : ms, i];
    }
    parts.push(raw);
  }
  return fail(`LOC ${what} must be "degrees [minutes [seconds]] ${hemispheres[0]}|${hemispheres[1]}"`);
}

export function locFromText(fields: readonly Field[]): Uint8Array {
  if (fields.some((f) => f.quoted)) fail('LOC fields must not be quoted');
  const [lat, afterLat] = angle(fields, 0, 'NS', 90, 'latitude');
  const [lon, afterLon] = angle(fields, afterLat, 'EW', 180, 'longitude');
  const rest = fields.slice(afterLon).map((f) => f.raw);
  if (rest.length < 1 || rest.length > 4) fail('LOC needs an altitude after the longitude, then at most size, horizontal and vertical precision');
  const alt = centimetres(rest[0], true, 'altitude');
  if (alt < -ALT_BASE_CM || alt > MAX_ALT_CM) fail(`LOC altitude ${show(rest[0])} is outside -100000m..42849672.95m`);
  const sizes = DEFAULT_SIZES.map((d, k) => (rest[k + 1] === undefined ? d : sizeByte(rest[k + 1], SIZE_NAMES[k])));
  return new RdataWriter()
    .u8(0)
    .u8(sizes[0])
    .u8(sizes[1])
    .u8(sizes[2])
    .u32(EQUATOR + lat)
    .u32(EQUATOR + lon)
    .u32(alt + ALT_BASE_CM)
    .done();
}

function angleText(ms: number, hemispheres: string): string {
  const a = Math.abs(ms);
  const sec = a % 60_000;
  return `${Math.floor(a / MS_PER_DEGREE)} ${Math.floor((a % MS_PER_DEGREE) / 60_000)} ${Math.floor(sec / 1000)}.${String(sec % 1000).padStart(3, '0')} ${ms < 0 ? hemispheres[1] : hemispheres[0]}`;
}

export function locToText(rdata: Uint8Array): string {
  const r = new RdataReader(rdata, 'LOC');
  if (r.u8() !== 0) r.fail('has a version other than 0 (RFC 1876 defines only 0)');
  const sizes = [r.u8(), r.u8(), r.u8()].map((b, k) => sizeText(b, r, SIZE_NAMES[k]));
  const lat = r.u32() - EQUATOR;
  const lon = r.u32() - EQUATOR;
  const alt = r.u32() - ALT_BASE_CM;
  r.end();
  if (Math.abs(lat) > 90 * MS_PER_DEGREE || Math.abs(lon) > 180 * MS_PER_DEGREE) r.fail('has a latitude or longitude out of range');
  const a = Math.abs(alt);
  const altText = `${alt < 0 ? '-' : ''}${Math.floor(a / 100)}.${String(a % 100).padStart(2, '0')}m`;
  return `${angleText(lat, 'NS')} ${angleText(lon, 'EW')} ${altText} ${sizes.join(' ')}`;
}
