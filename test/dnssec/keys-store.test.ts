// DNSSEC keys in PostgreSQL and into the snapshot: the store's rules, NOTIFY and serial, the build, images, the snapshot file, reloads.
import crypto from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it, type TestContext } from 'vitest';
import { EMPTY_SNAPSHOT } from '../../src/core/snapshot.js';
import { decryptPrivateKey, dnskeyRdata, dsRdata, keyTag } from '../../src/dnssec/keys.js';
import { createLogger } from '../../src/obs/log.js';
import { createMetrics } from '../../src/obs/metrics.js';
import { buildSnapshot } from '../../src/snapshot/build.js';
import { adoptImage, encodeImage } from '../../src/snapshot/image.js';
import { Reloader } from '../../src/snapshot/reloader.js';
import { readSnapshotFile, writeSnapshotFile } from '../../src/snapshot/snapshot-file.js';
import { openStore, type Change, type Store } from '../../src/store/store.js';
import { createTestDatabase, pgAvailable, storeConfig, type TestDatabase } from '../helpers/db.js';
import { need } from '../helpers/prerequisite.js';

const SECRET = 'a secret of some length 1';
const havePg = await pgAvailable();
const needPg = (ctx: TestContext) => need(ctx, havePg ? undefined : 'no PostgreSQL on 127.0.0.1:5432 (these tests check its triggers and NOTIFY)');

let db: TestDatabase;
let store: Store;
let sqlc: pg.Client;
const dir = mkdtempSync(join(tmpdir(), 'lbdns-keys-store-'));

beforeAll(async () => {
  if (!havePg) return;
  db = await createTestDatabase();
  store = await openStore(storeConfig(db), { role: 'server', migrate: true });
  sqlc = new pg.Client(db.url);
  await sqlc.connect();
});
afterAll(async () => {
  await sqlc?.end();
  await store?.close();
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

let n = 0;
/** A fresh zone per test, with a few ordinary records. */
async function freshZone(): Promise<string> {
  const zone = `z${++n}.test`;
  await store.addZone({ name: zone });
  await store.addRecord({ name: zone, type: 'NS', content: `ns1.${zone}` });
  await store.addRecord({ name: `www.${zone}`, type: 'A', content: '192.0.2.1' });
  return zone;
}

const serialOf = async (zone: string): Promise<number> => (await store.getZone(zone))!.serial;
const keyRows = async (zone: string) =>
  (await sqlc.query('select k.* from dnssec_keys k join zones z on z.id = k.zone_id where z.name = $1', [zone])).rows as {
    algorithm: number;
    flags: number;
    key_tag: number;
    public_key: Buffer;
    private_key: Buffer;
  }[];

describe('dnssec keys in the store', () => {
  beforeEach((ctx) => needPg(ctx));

  it.for([13, 15] as const)('enable stores a sealed key of algorithm %i that opens with the secret and signs for its DNSKEY, and moves the serial', async (algorithm) => {
    const zone = await freshZone();
    const before = await serialOf(zone);
    const info = await store.enableDnssec(zone.toUpperCase() + '.', algorithm, SECRET);
    expect(info).toMatchObject({ zone, algorithm, flags: 257 });
    const [row] = await keyRows(zone);
    expect({ algorithm: row.algorithm, flags: row.flags, keyTag: row.key_tag }).toEqual({ algorithm, flags: 257, keyTag: info.keyTag });
    expect(new Uint8Array(row.public_key)).toEqual(info.publicKey);
    const dnskey = dnskeyRdata(257, algorithm, info.publicKey);
    expect(keyTag(dnskey)).toBe(info.keyTag);
    // The stored private key is sealed (no PKCS#8 in the clear) and opens to the key that the DNSKEY verifies.
    expect(row.private_key[0]).toBe(1);
    const key = decryptPrivateKey(new Uint8Array(row.private_key), SECRET);
    const pub = crypto.createPublicKey(key);
    const data = Buffer.from(zone);
    const sig = algorithm === 13 ? crypto.sign('sha256', data, { key, dsaEncoding: 'ieee-p1363' }) : crypto.sign(null, data, key);
    const jwk = pub.export({ format: 'jwk' });
    const field = Buffer.concat([Buffer.from(jwk.x!, 'base64url'), ...(jwk.y ? [Buffer.from(jwk.y, 'base64url')] : [])]);
    expect(new Uint8Array(field)).toEqual(info.publicKey);
    expect(algorithm === 13 ? crypto.verify('sha256', data, { key: pub, dsaEncoding: 'ieee-p1363' }, sig) : crypto.verify(null, data, pub, sig)).toBe(true);
    expect(await serialOf(zone)).toBe(before + 1);
    expect(await store.dnssecKeys(zone)).toEqual([info]);
    expect((await store.dnssecKeys()).map((k) => k.zone)).toContain(zone);
  });

  it('enable twice is a conflict; disable removes the key and moves the serial; disabling again is not found', async () => {
    const zone = await freshZone();
    const info = await store.enableDnssec(zone, 13, SECRET);
    await expect(store.enableDnssec(zone, 15, SECRET)).rejects.toMatchObject({ code: 'E_CONFLICT', message: `zone ${zone} is already signed (key tag ${info.keyTag})` });
    expect((await keyRows(zone)).map((r) => r.key_tag)).toEqual([info.keyTag]);
    const serial = await serialOf(zone);
    expect(await store.disableDnssec(zone)).toEqual(info);
    expect(await keyRows(zone)).toEqual([]);
    expect(await serialOf(zone)).toBe(serial + 1);
    await expect(store.disableDnssec(zone)).rejects.toMatchObject({ code: 'E_NOT_FOUND', message: `zone ${zone} is not signed` });
    await expect(store.disableDnssec('nowhere.test')).rejects.toMatchObject({ code: 'E_NOT_FOUND', message: 'no zone "nowhere.test"' });
    await expect(store.enableDnssec('nowhere.test', 13, SECRET)).rejects.toMatchObject({ code: 'E_NOT_FOUND', message: 'no zone "nowhere.test"' });
    await expect(store.dnssecKeys('nowhere.test')).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
    expect(await store.dnssecKeys(zone)).toEqual([]);
  });

  it('refuses a zone holding what a signed zone cannot, naming the first record and why, and stores nothing', async () => {
    const cases: [name: string, type: string, content: string, message: RegExp][] = [
      ['www', 'TYPE46', '\\# 2 0001', /record www\.Z TYPE46 \(RRSIG\): RRSIG records are made by the signer/],
      ['www', 'TYPE47', '\\# 2 0001', /record www\.Z TYPE47 \(NSEC\): NSEC records are made by the signer/],
      ['x', 'TYPE50', '\\# 2 0001', /record x\.Z TYPE50 \(NSEC3\): lbdns denies existence with NSEC/],
      ['@', 'TYPE51', '\\# 2 0001', /record Z TYPE51 \(NSEC3PARAM\): lbdns denies existence with NSEC/],
      ['@', 'DNSKEY', '257 3 15 l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=', /record Z DNSKEY: the apex DNSKEY set is made from the zone's signing key/],
      ['@', 'CDS', `1 13 2 ${'00'.repeat(32)}`, /record Z CDS: the apex CDS set is made/],
      ['@', 'CDNSKEY', '257 3 15 l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=', /record Z CDNSKEY: the apex CDNSKEY set is made/],
      ['@', 'DS', `1 13 2 ${'00'.repeat(32)}`, /record Z DS: a zone's DS belongs in its parent \(RFC 4035 section 2\.4\), not at its own apex/],
    ];
    for (const [owner, type, content, message] of cases) {
      const zone = await freshZone();
      await store.addRecord({ name: owner === '@' ? zone : `${owner}.${zone}`, type, content });
      const before = await store.loadContents();
      const want = new RegExp(`^zone ${zone.replace('.', '\\.')} cannot be signed: ${message.source.replaceAll('Z', zone.replace('.', '\\.'))}.* \\(remove it first\\)$`);
      const err = await store.enableDnssec(zone, 13, SECRET).catch((e: unknown) => e);
      expect(err, `${type} at ${owner}`).toMatchObject({ code: 'E_INPUT' });
      expect((err as Error).message).toMatch(want);
      expect(await store.loadContents()).toEqual(before);
    }
  });

  it('allows DS at delegations and DNSKEY, CDS, CDNSKEY below the apex, and refuses the apex ones once signed', async () => {
    const zone = await freshZone();
    await store.addRecord({ name: `child.${zone}`, type: 'NS', content: `ns.child.${zone}` });
    await store.addRecord({ name: `child.${zone}`, type: 'DS', content: `1 13 2 ${'ab'.repeat(32)}` });
    await store.addRecord({ name: `keys.${zone}`, type: 'DNSKEY', content: '256 3 15 l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=' });
    await store.enableDnssec(zone, 15, SECRET);
    await store.addRecord({ name: `other.${zone}`, type: 'CDS', content: `1 13 2 ${'cd'.repeat(32)}` });
    const before = await store.loadContents();
    await expect(store.addRecord({ name: zone, type: 'DNSKEY', content: '257 3 15 l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=' })).rejects.toMatchObject({
      code: 'E_INPUT',
      message: `record ${zone} DNSKEY: zone ${zone} is signed: the apex DNSKEY set is made from the zone's signing key`,
    });
    await expect(store.addRecord({ name: `a.${zone}`, type: 'TYPE46', content: '\\# 1 00' })).rejects.toMatchObject({
      code: 'E_INPUT',
      message: `record a.${zone} TYPE46 (RRSIG): zone ${zone} is signed: RRSIG records are made by the signer for every answer; a stored one would be served beside them`,
    });
    // Plain SQL meets the same rule.
    await expect(sqlc.query(`insert into records (zone_id, name, type, content) select id, name, 'TYPE47', '\\# 1 00' from zones where name = $1`, [zone])).rejects.toThrow(/TYPE47 \(NSEC\): zone .* is signed/);
    expect(await store.loadContents()).toEqual(before);
  });

  it('refuses a secret other than the one that sealed the other zones, a short one, and an unknown algorithm', async () => {
    const first = await freshZone();
    await store.enableDnssec(first, 13, SECRET);
    const zone = await freshZone();
    const other = 'another secret, also long';
    const err = (await store.enableDnssec(zone, 13, other).catch((e: unknown) => e)) as Error & { code: string };
    expect(err.code).toBe('E_INPUT');
    expect(err.message).toMatch(/^the key secret is not the one that sealed zone z\d+\.test's key: every node holds one LBDNS_KEY_SECRET/);
    expect(err.message).not.toContain(other);
    await expect(store.enableDnssec(zone, 13, 'short')).rejects.toMatchObject({ code: 'E_INPUT', message: 'the key secret must be at least 16 characters' });
    await expect(store.enableDnssec(zone, 8 as 13, SECRET)).rejects.toMatchObject({ code: 'E_INPUT' });
    expect(await keyRows(zone)).toEqual([]);
  });

  it('the database keeps out a bare private key, a wrong key tag, a second key and a rename of a signed zone', async () => {
    const zone = await freshZone();
    const info = await store.enableDnssec(zone, 15, SECRET);
    const [row] = await keyRows(zone);
    const other = await freshZone();
    const insert = (keyTag: number, privateKey: Buffer, name = other) =>
      sqlc.query('insert into dnssec_keys (zone_id, algorithm, key_tag, public_key, private_key) select id, 15, $2, $3, $4 from zones where name = $1', [name, keyTag, row.public_key, privateKey]);
    await expect(insert(info.keyTag, Buffer.concat([Buffer.from([0x30]), row.private_key]))).rejects.toThrow(/dnssec_keys_private_key_sealed/);
    await expect(insert((info.keyTag + 1) & 0xffff, row.private_key)).rejects.toThrow(/dnssec_keys_key_tag_valid/);
    await expect(insert(info.keyTag, row.private_key, zone)).rejects.toThrow(/dnssec_keys_one_per_zone/);
    await expect(sqlc.query('update zones set name = $2 where name = $1', [zone, `renamed.${zone}`])).rejects.toThrow(/cannot be renamed/);
  });

  it('a key change NOTIFYs lbdns_changes naming its zone and advances config_version', async () => {
    const zone = await freshZone();
    const seen: Change[] = [];
    const stop = await store.watchChanges((c) => seen.push(c));
    try {
      const version = await store.configVersion();
      await store.enableDnssec(zone, 13, SECRET);
      const until = Date.now() + 3000;
      while (!seen.some((c) => c.table === 'dnssec_keys') && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      expect(seen.filter((c) => c.table === 'dnssec_keys').map((c) => c.zone)).toEqual([zone]);
      expect(await store.configVersion()).toBeGreaterThan(version);
    } finally {
      await stop();
    }
  });

  it('zone rm takes its key with it', async () => {
    const zone = await freshZone();
    await store.enableDnssec(zone, 13, SECRET);
    await store.removeZone(zone);
    expect(await keyRows(zone)).toEqual([]);
  });
});

describe('dnssec keys into the snapshot', () => {
  beforeEach((ctx) => needPg(ctx));

  it('loadContents and loadZoneContents carry the key rows; buildZones puts zone.dnssec on signed zones only', async () => {
    const signed = await freshZone();
    const plain = await freshZone();
    const info = await store.enableDnssec(signed, 13, SECRET);
    const all = await store.loadContents();
    const zoneId = all.zones.find((z) => z.name === signed)!.id;
    const row = all.dnssecKeys!.find((k) => k.zoneId === zoneId)!;
    expect(row).toMatchObject({ algorithm: 13, flags: 257, keyTag: info.keyTag, publicKey: info.publicKey });
    const part = await store.loadZoneContents([signed, plain]);
    expect(part.dnssecKeys).toEqual([row]);
    expect((await store.loadZoneContents([plain])).dnssecKeys).toEqual([]);

    const { snapshot, skipped } = buildSnapshot(all);
    expect(skipped).toEqual([]);
    const key = snapshot.zones.get(signed)!.dnssec!;
    expect(key).toMatchObject({ algorithm: 13, flags: 257, keyTag: info.keyTag });
    expect(key.dnskey).toEqual(dnskeyRdata(257, 13, info.publicKey));
    expect(dsRdata(signed, key.dnskey)).toEqual(dsRdata(signed, dnskeyRdata(row.flags, 13, row.publicKey)));
    // Still sealed in the snapshot; it opens with the secret.
    expect(key.privateKey).toEqual(row.privateKey);
    expect(decryptPrivateKey(key.privateKey, SECRET).asymmetricKeyType).toBe('ec');
    expect(Object.isFrozen(key)).toBe(true);
    expect('dnssec' in snapshot.zones.get(plain)!).toBe(false);
  });

  it('an image keeps the key through encode and adopt, and an unsigned zone stays without one', async () => {
    const signed = await freshZone();
    const plain = await freshZone();
    await store.enableDnssec(signed, 15, SECRET);
    const built = buildSnapshot(await store.loadContents()).snapshot;
    const order = [...built.zones.keys()].map((name) => [name, name] as const);
    const adopted = await adoptImage(encodeImage(built, order, []), EMPTY_SNAPSHOT);
    expect(adopted.zones.get(signed)!.dnssec).toEqual(built.zones.get(signed)!.dnssec);
    expect(Object.isFrozen(adopted.zones.get(signed)!.dnssec)).toBe(true);
    expect(Object.keys(adopted.zones.get(signed)!)).toEqual(Object.keys(built.zones.get(signed)!));
    expect(Object.keys(adopted.zones.get(plain)!)).toEqual(Object.keys(built.zones.get(plain)!));
    expect('dnssec' in adopted.zones.get(plain)!).toBe(false);
    expect(decryptPrivateKey(adopted.zones.get(signed)!.dnssec!.privateKey, SECRET).asymmetricKeyType).toBe('ed25519');
  });

  it('the snapshot file keeps the sealed key; a file from before DNSSEC still loads, unsigned', async () => {
    const signed = await freshZone();
    await store.enableDnssec(signed, 13, SECRET);
    const contents = await store.loadContents();
    const file = join(dir, 'snapshot.json');
    await writeSnapshotFile(file, contents, 'node-a');
    const back = await readSnapshotFile(file);
    expect(back!.contents).toEqual(contents);
    expect(buildSnapshot(back!.contents).snapshot.zones.get(signed)!.dnssec).toEqual(buildSnapshot(contents).snapshot.zones.get(signed)!.dnssec);

    const { dnssecKeys: _keys, ...old } = contents;
    const oldFile = join(dir, 'old.json');
    writeFileSync(oldFile, JSON.stringify({ format: 1, savedAt: new Date().toISOString(), node: 'node-a', contents: old }));
    const fromOld = await readSnapshotFile(oldFile);
    expect(fromOld!.contents.dnssecKeys).toBeUndefined();
    const rebuilt = buildSnapshot(fromOld!.contents);
    expect(rebuilt.skipped).toEqual([]);
    expect(rebuilt.snapshot.zones.get(signed)!.dnssec).toBeUndefined();
    expect(rebuilt.snapshot.zones.size).toBe(contents.zones.length);
  });

  it('a key row the builder cannot use (from a hand-edited file) is skipped and reported; the zone is served unsigned', async () => {
    const signed = await freshZone();
    await store.enableDnssec(signed, 13, SECRET);
    const contents = await store.loadContents();
    const zoneId = contents.zones.find((z) => z.name === signed)!.id;
    const bad = { ...contents, dnssecKeys: contents.dnssecKeys!.map((k) => (k.zoneId === zoneId ? { ...k, keyTag: (k.keyTag + 1) & 0xffff } : k)) };
    const { snapshot, skipped } = buildSnapshot(bad);
    expect(snapshot.zones.get(signed)!.dnssec).toBeUndefined();
    expect(snapshot.zones.get(signed)!.nodes.size).toBeGreaterThan(0);
    expect(skipped).toEqual([{ table: 'dnssec_keys', key: expect.stringContaining(signed), reason: expect.stringMatching(/^key tag \d+ is not its DNSKEY's \(\d+\)$/) }]);
    const short = { ...contents, dnssecKeys: contents.dnssecKeys!.map((k) => (k.zoneId === zoneId ? { ...k, publicKey: k.publicKey.subarray(0, 10) } : k)) };
    expect(buildSnapshot(short).skipped.map((s) => s.reason)).toEqual(['a DNSKEY of algorithm 13 has a 64-octet public key, not 10']);
  });

  it('a reload through the build thread picks up enable, a changed sealed key (no serial move) and disable', async () => {
    const zone = await freshZone();
    const logs: unknown[] = [];
    const reloader = new Reloader({
      load: () => store.loadContents(),
      loadZones: (names) => store.loadZoneContents(names),
      debounceMs: 60_000,
      log: createLogger('info', { write: (line: string) => void logs.push(line) } as never),
      metrics: createMetrics({ defaultMetrics: false }),
    });
    try {
      await reloader.reload(true);
      expect(reloader.current().zones.get(zone)!.dnssec).toBeUndefined();
      const info = await store.enableDnssec(zone, 13, SECRET);
      reloader.changed({ zone, table: 'dnssec_keys' });
      await reloader.reload();
      const key = reloader.current().zones.get(zone)!.dnssec!;
      expect(key.keyTag).toBe(info.keyTag);

      // A sealed key replaced by plain SQL (same public key, so the zone and its serial stay as they were).
      const [row] = await keyRows(zone);
      const resealed = Buffer.from(row.private_key);
      resealed[resealed.length - 1] ^= 0xff;
      const serial = await serialOf(zone);
      await sqlc.query('update dnssec_keys set private_key = $2 where zone_id = (select id from zones where name = $1)', [zone, resealed]);
      expect(await serialOf(zone)).toBe(serial);
      reloader.changed({ zone, table: 'dnssec_keys' });
      await reloader.reload();
      expect(Buffer.from(reloader.current().zones.get(zone)!.dnssec!.privateKey)).toEqual(resealed);
      // A full reload sees it the same way.
      await reloader.reload(true);
      expect(Buffer.from(reloader.current().zones.get(zone)!.dnssec!.privateKey)).toEqual(resealed);

      await store.disableDnssec(zone);
      reloader.changed({ zone, table: 'dnssec_keys' });
      await reloader.reload();
      expect(reloader.current().zones.get(zone)!.dnssec).toBeUndefined();
    } finally {
      reloader.stop();
    }
  });
});
