// DNSSEC keys in the store (migrations/0012_dnssec.sql): enable (a new sealed key), disable, list, and the rows snapshots are built from.
import { sql, type Kysely } from 'kysely';
import { COMBINED_KEY_FLAGS, decryptPrivateKey, dnskeyRdata, encryptPrivateKey, generateKey, isDnssecAlgorithm, keyTag, type DnssecAlgorithm } from '../dnssec/keys.js';
import { LbdnsError } from '../errors.js';
import type { DnssecKeyRow } from './rows.js';
import type { Database } from './schema.js';

type Db = Kysely<Database>;

/** The shortest secret a key is sealed with (LBDNS_KEY_SECRET is held to the same). */
export const MIN_SECRET_LENGTH = 16;

/** A zone's key as `dnssec list` and `dnssec ds` show it: never the private key. */
export interface DnssecKeyInfo {
  readonly zone: string;
  readonly algorithm: DnssecAlgorithm;
  readonly keyTag: number;
  readonly flags: number;
  /** The DNSKEY public key field. */
  readonly publicKey: Uint8Array;
  /** ms since the epoch. */
  readonly createdAt: number;
}

interface InfoRow {
  zone: string;
  algorithm: number;
  key_tag: number;
  flags: number;
  public_key: Buffer;
  created_ms: number | string;
}

const toInfo = (r: InfoRow): DnssecKeyInfo =>
  Object.freeze({
    zone: r.zone,
    algorithm: r.algorithm as DnssecAlgorithm,
    keyTag: r.key_tag,
    flags: r.flags,
    publicKey: new Uint8Array(r.public_key),
    createdAt: Number(r.created_ms),
  });

const INFO = sql`z.name as zone, k.algorithm, k.key_tag, k.flags, k.public_key, (extract(epoch from k.created_at) * 1000)::float8 as created_ms`;

/**
 * A new key for the zone, sealed with `secret`. E_NOT_FOUND: no such zone; E_CONFLICT: already signed; E_INPUT: an
 * algorithm other than 13 or 15, a short secret, or a record the signed zone cannot hold (the database names it).
 */
export async function enableDnssec(db: Db, zone: string, algorithm: DnssecAlgorithm, secret: string): Promise<DnssecKeyInfo> {
  if (!isDnssecAlgorithm(algorithm)) throw new LbdnsError('E_INPUT', `DNSSEC algorithm ${String(algorithm)} is not supported (13 ECDSAP256SHA256 or 15 ED25519)`);
  if (secret.length < MIN_SECRET_LENGTH) throw new LbdnsError('E_INPUT', `the key secret must be at least ${MIN_SECRET_LENGTH} characters`);
  await checkSameSecret(db, zone, secret);
  // Made before the transaction: scrypt takes tens of milliseconds, which no row lock should wait for.
  const key = generateKey(algorithm);
  const sealed = encryptPrivateKey(key.privateKeyDer, secret);
  const tag = keyTag(dnskeyRdata(COMBINED_KEY_FLAGS, algorithm, key.publicKey));
  return db.transaction().execute(async (trx) => {
    const z = await trx.selectFrom('zones').select('id').where('name', '=', zone).executeTakeFirst();
    if (z === undefined) throw new LbdnsError('E_NOT_FOUND', `no zone "${zone}"`);
    const old = await trx.selectFrom('dnssec_keys').select('key_tag').where('zone_id', '=', z.id).executeTakeFirst();
    if (old !== undefined) throw new LbdnsError('E_CONFLICT', `zone ${zone} is already signed (key tag ${old.key_tag})`);
    await trx
      .insertInto('dnssec_keys')
      .values({ zone_id: z.id, algorithm, flags: COMBINED_KEY_FLAGS, key_tag: tag, public_key: Buffer.from(key.publicKey), private_key: Buffer.from(sealed) })
      .execute();
    const rows = await sql<InfoRow>`select ${INFO} from dnssec_keys k join zones z on z.id = k.zone_id where k.zone_id = ${z.id}`.execute(trx);
    return toInfo(rows.rows[0]);
  });
}

/**
 * A node holds one LBDNS_KEY_SECRET, so every zone's key must be sealed with the same one: refuses a secret that does
 * not open another zone's key. A key that is corrupt says nothing about the secret and is passed over.
 */
async function checkSameSecret(db: Db, zone: string, secret: string): Promise<void> {
  const other = await sql<{ name: string; private_key: Buffer }>`
    select z.name, k.private_key from dnssec_keys k join zones z on z.id = k.zone_id where z.name <> ${zone} order by k.id limit 1`.execute(db);
  if (other.rows.length === 0) return;
  try {
    decryptPrivateKey(new Uint8Array(other.rows[0].private_key), secret);
  } catch (err) {
    // keys.ts names the secret only when the secret is what is wrong.
    if ((err as Error).message.includes('LBDNS_KEY_SECRET')) {
      throw new LbdnsError('E_INPUT', `the key secret is not the one that sealed zone ${other.rows[0].name}'s key: every node holds one LBDNS_KEY_SECRET, so all zones must use it`);
    }
  }
}

/** Removes the zone's key (the zone is served unsigned from the next snapshot on); returns the key removed. */
export async function disableDnssec(db: Db, zone: string): Promise<DnssecKeyInfo> {
  return db.transaction().execute(async (trx) => {
    const rows = await sql<InfoRow>`
      delete from dnssec_keys k using zones z where z.id = k.zone_id and z.name = ${zone} returning ${INFO}`.execute(trx);
    if (rows.rows.length > 0) return toInfo(rows.rows[0]);
    const z = await trx.selectFrom('zones').select('id').where('name', '=', zone).executeTakeFirst();
    throw new LbdnsError('E_NOT_FOUND', z === undefined ? `no zone "${zone}"` : `zone ${zone} is not signed`);
  });
}

/** Every signed zone's key, or the one zone's (empty when it is not signed; E_NOT_FOUND when it does not exist). */
export async function dnssecKeys(db: Db, zone?: string): Promise<readonly DnssecKeyInfo[]> {
  if (zone !== undefined && (await db.selectFrom('zones').select('id').where('name', '=', zone).executeTakeFirst()) === undefined) {
    throw new LbdnsError('E_NOT_FOUND', `no zone "${zone}"`);
  }
  const rows = await sql<InfoRow>`
    select ${INFO} from dnssec_keys k join zones z on z.id = k.zone_id
     where ${zone === undefined ? sql`true` : sql`z.name = ${zone}`} order by z.name, k.id`.execute(db);
  return Object.freeze(rows.rows.map(toInfo));
}

/** The rows a snapshot is built from (of the zones with these ids, or of all): private keys still sealed. */
export async function selectKeyRows(db: Db, zoneIds?: readonly number[]): Promise<readonly DnssecKeyRow[]> {
  if (zoneIds !== undefined && zoneIds.length === 0) return Object.freeze([]);
  let q = db.selectFrom('dnssec_keys').select(['zone_id', 'algorithm', 'flags', 'key_tag', 'public_key', 'private_key']);
  if (zoneIds !== undefined) q = q.where('zone_id', 'in', [...zoneIds]);
  const rows = await q.orderBy('zone_id').orderBy('id').execute();
  return Object.freeze(
    rows.map((r) =>
      Object.freeze({
        zoneId: r.zone_id,
        algorithm: r.algorithm,
        flags: r.flags,
        keyTag: r.key_tag,
        publicKey: new Uint8Array(r.public_key),
        privateKey: new Uint8Array(r.private_key),
      }),
    ),
  );
}
