// `lbdns dnssec enable|ds|disable|list` through the real binary: the DS printed is the stored key's, bad input is one line and changes nothing.
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { decryptPrivateKey, dnskeyRdata, dsRdata, dsText, type DnssecAlgorithm } from '../../src/dnssec/keys.js';
import { openStore, type Store } from '../../src/store/store.js';
import { createTestDatabase, pgAvailable, storeConfig, type TestDatabase } from '../helpers/db.js';
import { need } from '../helpers/prerequisite.js';
import { cliHarness } from './harness.js';

const SECRET = 'the cli test secret, 1';
const havePg = await pgAvailable();
let db: TestDatabase;
let store: Store;
let sqlc: pg.Client;
const { lbdns, fails } = cliHarness(() => ({ db, store }));
const withSecret = { LBDNS_KEY_SECRET: SECRET };

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
});

let n = 0;
async function freshZone(): Promise<string> {
  const zone = `c${++n}.test`;
  await store.addZone({ name: zone });
  await store.addRecord({ name: `www.${zone}`, type: 'A', content: '192.0.2.7' });
  return zone;
}

/** The zone's dnssec_keys row as stored. */
async function stored(zone: string): Promise<{ algorithm: DnssecAlgorithm; flags: number; key_tag: number; public_key: Buffer; private_key: Buffer } | undefined> {
  const r = await sqlc.query('select k.* from dnssec_keys k join zones z on z.id = k.zone_id where z.name = $1', [zone]);
  return r.rows[0];
}

describe('lbdns dnssec', () => {
  beforeEach((ctx) => need(ctx, havePg ? undefined : 'no PostgreSQL on 127.0.0.1:5432'));

  it.for(['13', '15'] as const)('enable --algorithm %s stores the key and prints its tag and the DS of the stored key', async (algorithm) => {
    const zone = await freshZone();
    const r = await lbdns(['dnssec', 'enable', `${zone.toUpperCase()}.`, '--algorithm', algorithm], withSecret);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    const row = (await stored(zone))!;
    expect(row).toBeDefined();
    expect(row.algorithm).toBe(Number(algorithm));
    const name = algorithm === '13' ? 'ECDSAP256SHA256' : 'ED25519';
    const dnskey = dnskeyRdata(row.flags, row.algorithm, row.public_key);
    const ds = dsRdata(zone, dnskey);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(`zone ${zone} is signed with key ${row.key_tag}, algorithm ${algorithm} (${name}); give the parent this DS:`);
    expect(lines[1]).toBe(`${zone}. IN DS ${row.key_tag} ${algorithm} 2 ${Buffer.from(ds.subarray(4)).toString('hex').toUpperCase()}`);
    expect(lines[1]).toBe(dsText(zone, dnskey));
    expect(lines).toHaveLength(2);
    expect(decryptPrivateKey(new Uint8Array(row.private_key), SECRET).asymmetricKeyType).toBe(algorithm === '13' ? 'ec' : 'ed25519');
  });

  it('enable defaults to algorithm 13; ds prints the same DS with the CDS/CDNSKEY note; list shows it', async () => {
    const zone = await freshZone();
    const r = await lbdns(['dnssec', 'enable', zone], withSecret);
    expect(r.code).toBe(0);
    const row = (await stored(zone))!;
    expect(row.algorithm).toBe(13);
    const line = dsText(zone, dnskeyRdata(row.flags, row.algorithm, row.public_key));
    const ds = await lbdns(['dnssec', 'ds', zone]);
    expect(ds.code).toBe(0);
    const out = ds.stdout.trimEnd().split('\n');
    expect(out[0]).toBe(line);
    expect(out.slice(1).every((l) => l.startsWith('; '))).toBe(true);
    expect(out.slice(1).join(' ')).toMatch(/CDS and CDNSKEY \(RFC 7344\).*\(RFC 8078\)/);

    const list = await lbdns(['dnssec', 'list']);
    expect(list.stdout).toMatch(new RegExp(`^ZONE +KEY TAG +ALGORITHM +FLAGS +CREATED\n`));
    expect(list.stdout).toMatch(new RegExp(`\n${zone.replace('.', '\\.')} +${row.key_tag} +13 \\(ECDSAP256SHA256\\) +257 \\(combined\\) +\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ\n`));
    const json = JSON.parse((await lbdns(['dnssec', 'list', '--json'])).stdout) as { zone: string; keyTag: number; publicKey: string; ds: string }[];
    const mine = json.find((k) => k.zone === zone)!;
    expect(mine).toMatchObject({ keyTag: row.key_tag, publicKey: row.public_key.toString('base64'), ds: line });
    // The private key is never printed, sealed or not.
    expect(JSON.stringify(json)).not.toContain(row.private_key.toString('base64').slice(0, 24));
  });

  it('enable twice: E_CONFLICT in one line, the key unchanged', async () => {
    const zone = await freshZone();
    expect((await lbdns(['dnssec', 'enable', zone], withSecret)).code).toBe(0);
    const row = (await stored(zone))!;
    await fails(['dnssec', 'enable', zone, '--algorithm', '15'], 1, `zone ${zone} is already signed (key tag ${row.key_tag})`, withSecret);
    expect(await stored(zone)).toEqual(row);
  });

  it('enable without LBDNS_KEY_SECRET, or with one too short: one line, no key', async () => {
    const zone = await freshZone();
    await fails(['dnssec', 'enable', zone], 2, 'dnssec enable: LBDNS_KEY_SECRET is not set (it seals the private key; every node needs the same one to sign)', { LBDNS_KEY_SECRET: '' });
    await fails(['dnssec', 'enable', zone], 2, 'invalid configuration: LBDNS_KEY_SECRET: must be at least 16 characters', { LBDNS_KEY_SECRET: 'Zq-short-one' });
    expect(await stored(zone)).toBeUndefined();
  });

  it('enable on a zone holding what a signed zone cannot: one line naming the record, no key', async () => {
    const zone = await freshZone();
    await store.addRecord({ name: zone, type: 'CDNSKEY', content: '257 3 15 l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=' });
    await store.addRecord({ name: `old.${zone}`, type: 'TYPE46', content: '\\# 1 00' });
    await fails(['dnssec', 'enable', zone], 2, `zone ${zone} cannot be signed: record ${zone} CDNSKEY: the apex CDNSKEY set is made from the zone's signing key (remove it first)`, withSecret);
    await store.removeRecord({ name: zone, type: 'CDNSKEY' });
    await fails(
      ['dnssec', 'enable', zone],
      2,
      `zone ${zone} cannot be signed: record old.${zone} TYPE46 (RRSIG): RRSIG records are made by the signer for every answer; a stored one would be served beside them (remove it first)`,
      withSecret,
    );
    expect(await stored(zone)).toBeUndefined();
  });

  it('enable with another secret than the signed zones have: one line without either secret, no key', async () => {
    const first = await freshZone();
    expect((await lbdns(['dnssec', 'enable', first], withSecret)).code).toBe(0);
    const zone = await freshZone();
    const other = 'Wv-another-secret-entirely';
    await fails(['dnssec', 'enable', zone], 2, /^lbdns: the key secret is not the one that sealed zone c\d+\.test's key: every node holds one LBDNS_KEY_SECRET, so all zones must use it\n$/, { LBDNS_KEY_SECRET: other });
    const r = await lbdns(['dnssec', 'enable', zone], { LBDNS_KEY_SECRET: other });
    expect(r.stderr).not.toContain(other);
    expect(r.stderr).not.toContain(SECRET);
    expect(await stored(zone)).toBeUndefined();
  });

  it('bad arguments and unknown zones: one line, nothing changed', async () => {
    const zone = await freshZone();
    await fails(['dnssec', 'enable', zone, '--algorithm', '8'], 2, 'dnssec enable: --algorithm must be 13 (ECDSAP256SHA256) or 15 (ED25519)', withSecret);
    await fails(['dnssec', 'enable'], 2, 'dnssec enable: expected ZONE, got nothing', withSecret);
    await fails(['dnssec', 'enable', 'nowhere.test'], 1, 'no zone "nowhere.test"', withSecret);
    await fails(['dnssec', 'ds', zone], 1, `zone ${zone} is not signed (lbdns dnssec enable ZONE)`);
    await fails(['dnssec', 'ds', 'nowhere.test'], 1, 'no zone "nowhere.test"');
    await fails(['dnssec', 'disable', zone], 1, `zone ${zone} is not signed`);
    await fails(['dnssec', 'rotate', zone], 2, 'dnssec: unknown subcommand "rotate" (enable, ds, disable, list)');
  });

  it('disable removes the key and says what that means for the parent', async () => {
    const zone = await freshZone();
    expect((await lbdns(['dnssec', 'enable', zone], withSecret)).code).toBe(0);
    const row = (await stored(zone))!;
    const r = await lbdns(['dnssec', 'disable', zone]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`zone ${zone} is served unsigned: key ${row.key_tag} removed (a DS for it left at the parent makes validators refuse the zone)\n`);
    expect(await stored(zone)).toBeUndefined();
    expect((await lbdns(['dnssec', 'list', '--json'])).stdout).not.toContain(`"${zone}"`);
  });

  it('help lists the dnssec commands', async () => {
    const help = await lbdns(['dnssec', '--help']);
    expect(help.stdout).toContain('usage: lbdns dnssec enable ZONE [--algorithm 13|15]');
    expect(help.stdout).toContain('usage: lbdns dnssec ds ZONE');
    expect(help.stdout).toContain('usage: lbdns dnssec disable ZONE');
    expect(help.stdout).toContain('usage: lbdns dnssec list [--json]');
    expect(help.stdout).toMatch(/\(sign zones online/);
    expect((await lbdns(['help'])).stdout).toContain('lbdns dnssec enable ZONE');
  });
});
