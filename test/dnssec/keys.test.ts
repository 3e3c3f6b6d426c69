// DNSSEC keys: DNSKEY, key tag and DS checked against BIND's dnssec-dsfromkey and the RFC examples; sealing and opening private keys.
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import {
  cdnskeyRdata,
  cdsRdata,
  decryptPrivateKey,
  dnskeyRdata,
  dsRdata,
  dsText,
  encryptPrivateKey,
  generateKey,
  keyTag,
  type DnssecAlgorithm,
} from '../../src/dnssec/keys.js';
import { need, onPath } from '../helpers/prerequisite.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'lbdns-keys-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SECRET = 'correct horse battery staple';
const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');

/** The DS that BIND computes for a DNSKEY record of `zone`. */
async function bindDs(zone: string, algorithm: number, publicKey: Uint8Array): Promise<string> {
  const file = join(dir, `${zone}-${algorithm}-${crypto.randomBytes(4).toString('hex')}.zone`);
  writeFileSync(file, `${zone}. 3600 IN DNSKEY 257 3 ${algorithm} ${b64(publicKey)}\n`);
  const { stdout } = await run('dnssec-dsfromkey', ['-2', '-f', file, zone]);
  return stdout.trim();
}

/** A public KeyObject from the DNSKEY public key field alone, as a validator would build it. */
function publicFromField(algorithm: DnssecAlgorithm, field: Uint8Array): crypto.KeyObject {
  const part = (from: number, to: number) => Buffer.from(field.subarray(from, to)).toString('base64url');
  const jwk = algorithm === 13 ? { kty: 'EC', crv: 'P-256', x: part(0, 32), y: part(32, 64) } : { kty: 'OKP', crv: 'Ed25519', x: part(0, 32) };
  return crypto.createPublicKey({ key: jwk, format: 'jwk' });
}

describe('DNSKEY, key tag and DS', () => {
  it.for([13, 15] as const)('match dnssec-dsfromkey for new algorithm %i keys', async (algorithm, ctx) => {
    need(ctx, onPath('dnssec-dsfromkey') ? undefined : 'dnssec-dsfromkey (bind9-utils) is not on PATH');
    for (const zone of ['example.test', 'a-b.sub.example.test', 'test']) {
      for (let i = 0; i < 4; i++) {
        const key = generateKey(algorithm);
        expect(key.publicKey).toHaveLength(algorithm === 13 ? 64 : 32);
        const dnskey = dnskeyRdata(257, algorithm, key.publicKey);
        const line = await bindDs(zone, algorithm, key.publicKey);
        expect(dsText(zone, dnskey)).toBe(line);
        expect(Number(line.split(' ')[3])).toBe(keyTag(dnskey));
        // Owner case and a trailing dot do not change the digest (RFC 4034 §6.2 canonical form).
        expect(dsText(`${zone.toUpperCase()}.`, dnskey)).toBe(line);
      }
    }
  });

  it('match the examples of RFC 6605 §6.1 and RFC 8080 §6', () => {
    const p256 = Buffer.from('GojIhhXUN/u4v54ZQqGSnyhWJwaubCvTmeexv7bR6edbkrSqQpF64cYbcB7wNcP+e+MAnLr+Wi9xMWyQLc8NAA==', 'base64');
    const p256Key = dnskeyRdata(257, 13, p256);
    expect(keyTag(p256Key)).toBe(55648);
    expect(dsText('example.net', p256Key)).toBe('example.net. IN DS 55648 13 2 B4C8C1FE2E7477127B27115656AD6256F424625BF5C1E2770CE6D6E37DF61D17');
    const ed = Buffer.from('l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=', 'base64');
    const edKey = dnskeyRdata(257, 15, ed);
    expect(keyTag(edKey)).toBe(3613);
    expect(dsText('example.com.', edKey)).toBe('example.com. IN DS 3613 15 2 3AA5AB37EFCE57F737FC1627013FEE07BDF241BD10F3B1964AB55C78E79A304B');
  });

  it('lay out DNSKEY, DS, CDS and CDNSKEY RDATA as RFC 4034 and RFC 7344 say', () => {
    const key = generateKey(13);
    const dnskey = dnskeyRdata(257, 13, key.publicKey);
    expect([...dnskey.subarray(0, 4)]).toEqual([1, 1, 3, 13]);
    expect(dnskey.subarray(4)).toEqual(key.publicKey);
    const ds = dsRdata('example.test', dnskey);
    expect(ds).toHaveLength(36);
    expect((ds[0] << 8) | ds[1]).toBe(keyTag(dnskey));
    expect([ds[2], ds[3]]).toEqual([13, 2]);
    const wire = Buffer.from([7, ...Buffer.from('example'), 4, ...Buffer.from('test'), 0]);
    expect(Buffer.from(ds.subarray(4))).toEqual(crypto.createHash('sha256').update(wire).update(dnskey).digest());
    expect(cdsRdata('example.test', dnskey)).toEqual(ds);
    expect(cdnskeyRdata(257, 13, key.publicKey)).toEqual(dnskey);
  });

  it('refuse a public key of the wrong length or an unknown algorithm', () => {
    expect(() => dnskeyRdata(257, 13, new Uint8Array(32))).toThrow(/algorithm 13 has a 64-octet public key, not 32/);
    expect(() => dnskeyRdata(257, 15, new Uint8Array(64))).toThrow(/algorithm 15 has a 32-octet public key, not 64/);
    expect(() => dnskeyRdata(257, 8 as DnssecAlgorithm, new Uint8Array(64))).toThrow(/algorithm 8 is not supported/);
    expect(() => generateKey(8 as DnssecAlgorithm)).toThrow(/algorithm 8 is not supported/);
    expect(() => dsRdata('bad..name', dnskeyRdata(257, 15, new Uint8Array(32)))).toThrow(/not a domain name/);
  });
});

describe('sealed private keys', () => {
  it.each([13, 15] as const)('algorithm %i: sealed, opened, and signatures made with the opened key verify with the DNSKEY field', (algorithm) => {
    const key = generateKey(algorithm);
    const blob = encryptPrivateKey(key.privateKeyDer, SECRET);
    expect(Buffer.from(blob).includes(Buffer.from(key.privateKeyDer))).toBe(false);
    expect(blob[0]).toBe(1);
    // A fresh salt and IV each time: sealing the same key twice gives different blobs.
    expect(Buffer.from(encryptPrivateKey(key.privateKeyDer, SECRET)).equals(Buffer.from(blob))).toBe(false);
    const opened = decryptPrivateKey(blob, SECRET);
    expect(new Uint8Array(opened.export({ format: 'der', type: 'pkcs8' }))).toEqual(key.privateKeyDer);
    const data = Buffer.from('www.example.test. 300 IN A 192.0.2.1');
    const pub = publicFromField(algorithm, key.publicKey);
    // RFC 6605 §4: ECDSA signatures are r ‖ s (IEEE P1363), not DER.
    const sig = algorithm === 13 ? crypto.sign('sha256', data, { key: opened, dsaEncoding: 'ieee-p1363' }) : crypto.sign(null, data, opened);
    expect(sig).toHaveLength(64);
    const verify = (d: Buffer) =>
      algorithm === 13 ? crypto.verify('sha256', d, { key: pub, dsaEncoding: 'ieee-p1363' }, sig) : crypto.verify(null, d, pub, sig);
    expect(verify(data)).toBe(true);
    expect(verify(Buffer.from('www.example.test. 300 IN A 192.0.2.2'))).toBe(false);
    // Another key's DNSKEY does not verify it.
    expect(algorithm === 13
      ? crypto.verify('sha256', data, { key: publicFromField(13, generateKey(13).publicKey), dsaEncoding: 'ieee-p1363' }, sig)
      : crypto.verify(null, data, publicFromField(15, generateKey(15).publicKey), sig)).toBe(false);
  });

  it('a wrong secret is refused as such, and the message holds neither secret', () => {
    const blob = encryptPrivateKey(generateKey(15).privateKeyDer, SECRET);
    const wrong = 'not the right one at all';
    let message = '';
    try {
      decryptPrivateKey(blob, wrong);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toBe('DNSSEC private key cannot be opened: LBDNS_KEY_SECRET is not the secret it was sealed with');
    expect(message).not.toContain(wrong);
    expect(message).not.toContain(SECRET);
  });

  it('a corrupt blob is refused as corrupt, whichever part changed', () => {
    const blob = encryptPrivateKey(generateKey(13).privateKeyDer, SECRET);
    const changed = (at: number): Uint8Array => {
      const b = new Uint8Array(blob);
      b[at] ^= 0x01;
      return b;
    };
    // 1 version + 16 salt + 8 check, then 12 IV, 16 tag, ciphertext.
    expect(() => decryptPrivateKey(changed(25), SECRET)).toThrow(/^DNSSEC private key is corrupt: its ciphertext fails authentication/);
    expect(() => decryptPrivateKey(changed(40), SECRET)).toThrow(/^DNSSEC private key is corrupt: its ciphertext fails authentication/);
    expect(() => decryptPrivateKey(changed(blob.length - 1), SECRET)).toThrow(/^DNSSEC private key is corrupt: its ciphertext fails authentication/);
    expect(() => decryptPrivateKey(blob.subarray(0, blob.length - 3), SECRET)).toThrow(/^DNSSEC private key is corrupt: its ciphertext fails authentication/);
    expect(() => decryptPrivateKey(blob.subarray(0, 40), SECRET)).toThrow('DNSSEC private key is corrupt: 40 octets is too short');
    expect(() => decryptPrivateKey(new Uint8Array(0), SECRET)).toThrow('DNSSEC private key is corrupt: 0 octets is too short');
    const v2 = new Uint8Array(blob);
    v2[0] = 2;
    expect(() => decryptPrivateKey(v2, SECRET)).toThrow('DNSSEC private key is corrupt: unknown format version 2');
    // Sealed data that authenticates but is no key: what a wrong DER sealed with the right secret gives.
    expect(() => decryptPrivateKey(encryptPrivateKey(new Uint8Array([1, 2, 3]), SECRET), SECRET)).toThrow(/^DNSSEC private key is corrupt: the sealed data is not a PKCS#8 private key/);
  });

  it('an empty secret seals nothing', () => {
    expect(() => encryptPrivateKey(generateKey(15).privateKeyDer, '')).toThrow(/empty secret/);
  });
});
