// The signing keys this process can use: each zone key of the snapshot, decrypted once with LBDNS_KEY_SECRET.
//
// Decryption costs tens of milliseconds (scrypt), so it happens when a snapshot is taken in (warm), not on the
// answer path; a key is found again by its sealed bytes, so a new snapshot with the same key decrypts nothing.
// A key that cannot be used (no secret here, a wrong one, a corrupt row) leaves its zone answered unsigned: one log
// line per key, and lbdns_dnssec_zone_signed{zone} 0; the other zones sign on.
import type { Snapshot, Zone } from '../core/snapshot.js';
import type { Logger } from '../obs/log.js';
import type { Metrics } from '../obs/metrics.js';
import { decryptPrivateKey } from './keys.js';
import type { ZoneSigner } from './sign.js';

export class Keyring {
  /** By the sealed key's bytes: a signer, or null when the key cannot be used here. */
  readonly #signers = new Map<string, ZoneSigner | null>();
  /** By zone object (a snapshot's zones are frozen): the answer path's lookup, without encoding the sealed key. */
  readonly #byZone = new WeakMap<Zone, ZoneSigner | null>();
  readonly #secret: string | undefined;
  readonly #log: Logger;
  readonly #metrics: Metrics | undefined;
  #zones = new Set<string>();

  /** False in DNS workers: the primary takes in every snapshot they adopt and says it once for the node. */
  readonly #logUnusable: boolean;

  constructor(opts: { readonly secret: string | undefined; readonly log: Logger; readonly metrics?: Metrics; readonly logUnusable?: boolean }) {
    this.#secret = opts.secret;
    this.#logUnusable = opts.logUnusable ?? true;
    this.#log = opts.log.child({ component: 'dnssec' });
    this.#metrics = opts.metrics;
  }

  /** Decrypts the keys of a snapshot's signed zones ahead of the first answer, and says which zones are signed. */
  warm(snapshot: Snapshot): void {
    const zones = new Set<string>();
    for (const zone of snapshot.zones.values()) {
      if (!zone.dnssec) continue;
      zones.add(zone.name);
      this.#metrics?.dnssecZoneSigned.set({ zone: zone.name }, this.signerFor(zone) ? 1 : 0);
    }
    for (const gone of this.#zones) if (!zones.has(gone)) this.#metrics?.dnssecZoneSigned.remove({ zone: gone });
    this.#zones = zones;
    // Keys no snapshot names any more are dropped.
    if (this.#signers.size > 2 * zones.size + 16) this.#signers.clear();
  }

  readonly signerFor = (zone: Zone): ZoneSigner | undefined => {
    const key = zone.dnssec;
    if (!key) return undefined;
    const seen = this.#byZone.get(zone);
    if (seen !== undefined) return seen ?? undefined;
    const signer = this.#signerOf(zone, key);
    this.#byZone.set(zone, signer ?? null);
    return signer;
  };

  #signerOf(zone: Zone, key: NonNullable<Zone['dnssec']>): ZoneSigner | undefined {
    const id = `${zone.name}|${Buffer.from(key.privateKey.buffer, key.privateKey.byteOffset, key.privateKey.byteLength).toString('base64')}`;
    const known = this.#signers.get(id);
    if (known !== undefined) return known ?? undefined;
    let signer: ZoneSigner | null = null;
    if (this.#secret === undefined) {
      if (this.#logUnusable) this.#log.error({ zone: zone.name, keyTag: key.keyTag }, 'zone has a DNSSEC key but LBDNS_KEY_SECRET is not set: serving it UNSIGNED');
    } else {
      try {
        signer = Object.freeze({ zone: zone.name, algorithm: key.algorithm, keyTag: key.keyTag, key: decryptPrivateKey(key.privateKey, this.#secret) });
      } catch (err) {
        if (this.#logUnusable) this.#log.error({ zone: zone.name, keyTag: key.keyTag, err: (err as Error).message }, 'DNSSEC key unusable: serving the zone UNSIGNED');
      }
    }
    this.#signers.set(id, signer);
    return signer ?? undefined;
  }
}
