// DNSSEC signing keys: made, sealed for the store, and the DNSKEY, DS, CDS and CDNSKEY RDATA derived from them.
//
// One combined signing key per zone (flags 257: zone key + SEP, RFC 4034 §2.1.1), so the parent's DS and every
// RRSIG name the same key and a signer needs nothing but this one. Algorithms: 13 ECDSAP256SHA256 (RFC 6605) by
// default, 15 ED25519 (RFC 8080) on request; both MUST-implement for validators in RFC 8624 §3.1.
//
// The private key is kept in the store (dnssec_keys, migrations/0012_dnssec.sql) so that both nodes of a pair sign
// with the same key, sealed with a key derived from LBDNS_KEY_SECRET, which never enters the store:
//   blob = version (1) ‖ salt (16) ‖ check (8) ‖ iv (12) ‖ tag (16) ‖ ciphertext (PKCS#8 DER under AES-256-GCM)
// scrypt (N 2^14, r 8, p 1: node's default cost, ~16 MiB and tens of ms, paid once per key per process) turns the
// secret and the salt into 40 bytes: 32 for AES, 8 kept as `check`. The check says "wrong secret" apart from
// "corrupt blob" (GCM alone cannot tell them apart); it gives a guesser nothing the GCM tag does not already give.
// A changed salt or check reads as a wrong secret (nothing can tell those apart); any other change as corrupt.
// The header is GCM's additional data, so the ciphertext is bound to it.
//
// What a signed zone cannot hold (enforced by migrations/0012_dnssec.sql for every writer, CLI or SQL):
// - RRSIG (TYPE46) and NSEC (TYPE47) anywhere: the signer makes them for the answers it gives; stored ones would be
//   served beside them, unverifiable or contradicting the generated denial.
// - NSEC3 (TYPE50) and NSEC3PARAM (TYPE51) anywhere: lbdns denies existence with NSEC only, and a half chain of
//   stored NSEC3 makes validators reject every negative answer.
// - DNSKEY, CDS and CDNSKEY at the apex: made from the zone's key (RFC 7344 for CDS/CDNSKEY); stored ones would
//   clash with them. Below the apex they are ordinary data.
// - DS at the apex: a zone's DS lives in its parent (RFC 4035 §2.4); here it would be signed as this zone's data.
import crypto from 'node:crypto';
import { nameToWire } from '../core/names.js';

export type DnssecAlgorithm = 13 | 15;

/** RFC 8624 mnemonics, for messages and listings. */
export const ALGORITHM_NAMES: Readonly<Record<DnssecAlgorithm, string>> = { 13: 'ECDSAP256SHA256', 15: 'ED25519' };

/** DNSKEY public key field lengths: P-256 x ‖ y (RFC 6605 §4), Ed25519 (RFC 8080 §3). */
export const PUBLIC_KEY_BYTES: Readonly<Record<DnssecAlgorithm, number>> = { 13: 64, 15: 32 };

/** Zone key + Secure Entry Point: one key that both signs the zone and is named by the parent's DS. */
export const COMBINED_KEY_FLAGS = 257;
/** RFC 4034 §2.1.2: the protocol field is always 3. */
const PROTOCOL = 3;
/** RFC 4509: SHA-256. */
const DIGEST_SHA256 = 2;

const BLOB_VERSION = 1;
const SALT_BYTES = 16;
const CHECK_BYTES = 8;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = 1 + SALT_BYTES + CHECK_BYTES;
const SCRYPT = { N: 2 ** 14, r: 8, p: 1 } as const;

export function isDnssecAlgorithm(n: unknown): n is DnssecAlgorithm {
  return n === 13 || n === 15;
}

function b64url(text: string | undefined, bytes: number, what: string): Uint8Array {
  const out = Buffer.from(text ?? '', 'base64url');
  if (out.length !== bytes) throw new Error(`${what} is ${out.length} octets, not ${bytes}`);
  return new Uint8Array(out);
}

/** The DNSKEY public key field of a public KeyObject of the algorithm. */
function publicKeyField(algorithm: DnssecAlgorithm, key: crypto.KeyObject): Uint8Array {
  const jwk = key.export({ format: 'jwk' });
  if (algorithm === 13) {
    if (jwk.crv !== 'P-256') throw new Error(`key is not on P-256 (${jwk.crv ?? key.asymmetricKeyType})`);
    const out = new Uint8Array(64);
    out.set(b64url(jwk.x, 32, 'P-256 x'), 0);
    out.set(b64url(jwk.y, 32, 'P-256 y'), 32);
    return out;
  }
  if (jwk.crv !== 'Ed25519') throw new Error(`key is not Ed25519 (${jwk.crv ?? key.asymmetricKeyType})`);
  return b64url(jwk.x, 32, 'Ed25519 public key');
}

/** A new key pair: the DNSKEY public key field and the private key as PKCS#8 DER. */
export function generateKey(algorithm: DnssecAlgorithm): { publicKey: Uint8Array; privateKeyDer: Uint8Array } {
  const pair =
    algorithm === 13 ? crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' }) : algorithm === 15 ? crypto.generateKeyPairSync('ed25519') : undefined;
  if (pair === undefined) throw new Error(`DNSSEC algorithm ${String(algorithm)} is not supported (13 or 15)`);
  return {
    publicKey: publicKeyField(algorithm, pair.publicKey),
    privateKeyDer: new Uint8Array(pair.privateKey.export({ format: 'der', type: 'pkcs8' })),
  };
}

function derive(secret: string, salt: Uint8Array): { key: Buffer; check: Buffer } {
  const out = crypto.scryptSync(secret, salt, 32 + CHECK_BYTES, SCRYPT);
  return { key: out.subarray(0, 32), check: out.subarray(32) };
}

/** Seals PKCS#8 DER with a key derived from `secret` (see the file header for the layout). */
export function encryptPrivateKey(der: Uint8Array, secret: string): Uint8Array {
  if (secret.length === 0) throw new Error('an empty secret cannot seal a DNSSEC key');
  const salt = crypto.randomBytes(SALT_BYTES);
  const iv = crypto.randomBytes(IV_BYTES);
  const { key, check } = derive(secret, salt);
  const header = Buffer.concat([Buffer.from([BLOB_VERSION]), salt, check]);
  const cipher = crypto.createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(header);
  const body = Buffer.concat([cipher.update(der), cipher.final()]);
  return new Uint8Array(Buffer.concat([header, iv, cipher.getAuthTag(), body]));
}

/**
 * Opens a sealed key. Throws an Error saying which went wrong: the blob is corrupt (too short, unknown version,
 * ciphertext or tag changed, not a private key inside), or the secret is not the one it was sealed with.
 */
export function decryptPrivateKey(blob: Uint8Array, secret: string): crypto.KeyObject {
  const b = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  if (b.length < HEADER_BYTES + IV_BYTES + TAG_BYTES + 1) throw new Error(`DNSSEC private key is corrupt: ${b.length} octets is too short`);
  if (b[0] !== BLOB_VERSION) throw new Error(`DNSSEC private key is corrupt: unknown format version ${b[0]}`);
  const salt = b.subarray(1, 1 + SALT_BYTES);
  const { key, check } = derive(secret, salt);
  if (!crypto.timingSafeEqual(check, b.subarray(1 + SALT_BYTES, HEADER_BYTES))) {
    throw new Error('DNSSEC private key cannot be opened: LBDNS_KEY_SECRET is not the secret it was sealed with');
  }
  const iv = b.subarray(HEADER_BYTES, HEADER_BYTES + IV_BYTES);
  const tag = b.subarray(HEADER_BYTES + IV_BYTES, HEADER_BYTES + IV_BYTES + TAG_BYTES);
  const decipher = crypto.createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(b.subarray(0, HEADER_BYTES));
  decipher.setAuthTag(tag);
  let der: Buffer;
  try {
    der = Buffer.concat([decipher.update(b.subarray(HEADER_BYTES + IV_BYTES + TAG_BYTES)), decipher.final()]);
  } catch {
    throw new Error('DNSSEC private key is corrupt: its ciphertext fails authentication (the secret is right)');
  }
  try {
    return crypto.createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } catch (err) {
    throw new Error(`DNSSEC private key is corrupt: the sealed data is not a PKCS#8 private key (${(err as Error).message})`);
  }
}

/** DNSKEY RDATA (RFC 4034 §2.1): flags, protocol 3, algorithm, public key. */
export function dnskeyRdata(flags: number, algorithm: DnssecAlgorithm, publicKey: Uint8Array): Uint8Array {
  if (!Number.isInteger(flags) || flags < 0 || flags > 0xffff) throw new Error(`DNSKEY flags ${flags} are not 0..65535`);
  if (!isDnssecAlgorithm(algorithm)) throw new Error(`DNSSEC algorithm ${String(algorithm)} is not supported (13 or 15)`);
  if (publicKey.length !== PUBLIC_KEY_BYTES[algorithm]) {
    throw new Error(`a DNSKEY of algorithm ${algorithm} has a ${PUBLIC_KEY_BYTES[algorithm]}-octet public key, not ${publicKey.length}`);
  }
  const out = new Uint8Array(4 + publicKey.length);
  out[0] = flags >> 8;
  out[1] = flags & 0xff;
  out[2] = PROTOCOL;
  out[3] = algorithm;
  out.set(publicKey, 4);
  return out;
}

/** RFC 4034 Appendix B: the key tag of a DNSKEY (any algorithm but the retired 1). */
export function keyTag(dnskey: Uint8Array): number {
  let ac = 0;
  for (let i = 0; i < dnskey.length; i++) ac += i & 1 ? dnskey[i] : dnskey[i] << 8;
  ac += (ac >>> 16) & 0xffff;
  return ac & 0xffff;
}

/** The canonical wire form of a zone name (RFC 4034 §6.2: lower case), given with or without its trailing dot. */
function ownerWire(zoneName: string): Buffer {
  const name = zoneName.toLowerCase().replace(/\.$/, '');
  if (name.length > 253 || name.split('.').some((l, _, all) => (l === '' && all.length > 1) || l.length > 63)) {
    throw new Error(`${JSON.stringify(zoneName)} is not a domain name`);
  }
  return nameToWire(name);
}

/** DS RDATA (RFC 4034 §5.1, digest type 2 of RFC 4509): SHA-256 over the owner's canonical wire name ‖ DNSKEY RDATA. */
export function dsRdata(zoneName: string, dnskey: Uint8Array): Uint8Array {
  if (dnskey.length < 5) throw new Error(`DNSKEY RDATA of ${dnskey.length} octets is too short`);
  const digest = crypto.createHash('sha256').update(ownerWire(zoneName)).update(dnskey).digest();
  const out = new Uint8Array(4 + digest.length);
  const tag = keyTag(dnskey);
  out[0] = tag >> 8;
  out[1] = tag & 0xff;
  out[2] = dnskey[3];
  out[3] = DIGEST_SHA256;
  out.set(digest, 4);
  return out;
}

/** The DS as a zone-file line for the parent: "example.test. IN DS 12345 13 2 <HEX>" (hex upper case, as BIND prints). */
export function dsText(zoneName: string, dnskey: Uint8Array): string {
  const ds = dsRdata(zoneName, dnskey);
  const name = zoneName.toLowerCase().replace(/\.$/, '');
  return `${name}. IN DS ${(ds[0] << 8) | ds[1]} ${ds[2]} ${ds[3]} ${Buffer.from(ds.subarray(4)).toString('hex').toUpperCase()}`;
}

/** CDS RDATA (RFC 7344 §3.1): the DS the parent should hold, published in the child. */
export function cdsRdata(zoneName: string, dnskey: Uint8Array): Uint8Array {
  return dsRdata(zoneName, dnskey);
}

/** CDNSKEY RDATA (RFC 7344 §3.2): the DNSKEY the parent should make its DS from. */
export function cdnskeyRdata(flags: number, algorithm: DnssecAlgorithm, publicKey: Uint8Array): Uint8Array {
  return dnskeyRdata(flags, algorithm, publicKey);
}
