// `lbdns dnssec enable|ds|disable|list`: a zone's signing key, kept sealed in the store, and the DS its parent needs.
import { z } from 'zod';
import { ALGORITHM_NAMES, COMBINED_KEY_FLAGS, dnskeyRdata, dsText, type DnssecAlgorithm } from '../dnssec/keys.js';
import { LbdnsError } from '../errors.js';
import type { DnssecKeyInfo } from '../store/store.js';
import { group, parseCommand, withStore, type Command } from './command.js';
import { isoTime, table } from './table.js';
import { GROUP_SUMMARY, USAGE } from './usage.js';

const ds = (k: DnssecKeyInfo): string => dsText(k.zone, dnskeyRdata(k.flags, k.algorithm, k.publicKey));
const algorithmText = (a: DnssecAlgorithm): string => `${a} (${ALGORITHM_NAMES[a]})`;

/** Zone-file comments after a DS: where else the parent can find it. */
const CDS_NOTE = [
  '; The apex also publishes this key as CDS and CDNSKEY (RFC 7344), signed: a parent that reads them (RFC 8078)',
  '; can take the DS from there; for any other, give it the DS line above.',
];

const zoneOnly = (command: string, args: readonly string[]): string =>
  parseCommand(args, { command, options: {}, schema: z.object({}), positionals: [1, 1], names: 'ZONE' }).positionals[0];

const enable: Command = {
  ...USAGE['dnssec enable'],
  async run(args, ctx) {
    const { values, positionals } = parseCommand(args, {
      command: 'dnssec enable',
      options: { algorithm: { type: 'string' } },
      schema: z.object({ algorithm: z.enum(['13', '15'], 'must be 13 (ECDSAP256SHA256) or 15 (ED25519)').optional() }),
      positionals: [1, 1],
      names: 'ZONE',
    });
    const secret = ctx.config().dnssec.secret;
    if (secret === undefined) {
      throw new LbdnsError('E_CONFIG', 'dnssec enable: LBDNS_KEY_SECRET is not set (it seals the private key; every node needs the same one to sign)');
    }
    const algorithm = Number(values.algorithm ?? '13') as DnssecAlgorithm;
    const key = await withStore(ctx, (s) => s.enableDnssec(positionals[0], algorithm, secret));
    ctx.out(`zone ${key.zone} is signed with key ${key.keyTag}, algorithm ${algorithmText(key.algorithm)}; give the parent this DS:`);
    ctx.out(ds(key));
  },
};

const dsCommand: Command = {
  ...USAGE['dnssec ds'],
  async run(args, ctx) {
    const zone = zoneOnly('dnssec ds', args);
    const keys = await withStore(ctx, (s) => s.dnssecKeys(zone));
    if (keys.length === 0) throw new LbdnsError('E_NOT_FOUND', `zone ${zone.toLowerCase().replace(/\.$/, '')} is not signed (lbdns dnssec enable ZONE)`);
    for (const k of keys) ctx.out(ds(k));
    for (const line of CDS_NOTE) ctx.out(line);
  },
};

const disable: Command = {
  ...USAGE['dnssec disable'],
  async run(args, ctx) {
    const zone = zoneOnly('dnssec disable', args);
    const key = await withStore(ctx, (s) => s.disableDnssec(zone));
    ctx.out(`zone ${key.zone} is served unsigned: key ${key.keyTag} removed (a DS for it left at the parent makes validators refuse the zone)`);
  },
};

const list: Command = {
  ...USAGE['dnssec list'],
  async run(args, ctx) {
    const { values } = parseCommand(args, {
      command: 'dnssec list',
      options: { json: { type: 'boolean' } },
      schema: z.object({ json: z.boolean().optional() }),
      positionals: [0, 0],
      names: 'no arguments',
    });
    const keys = await withStore(ctx, (s) => s.dnssecKeys());
    if (values.json) {
      const rows = keys.map((k) => ({
        zone: k.zone,
        keyTag: k.keyTag,
        algorithm: k.algorithm,
        flags: k.flags,
        publicKey: Buffer.from(k.publicKey).toString('base64'),
        ds: ds(k),
        createdAt: isoTime(k.createdAt),
      }));
      return ctx.out(JSON.stringify(rows, null, 2));
    }
    if (keys.length === 0) return ctx.out('no signed zones');
    const rows = keys.map((k) => [k.zone, String(k.keyTag), algorithmText(k.algorithm), k.flags === COMBINED_KEY_FLAGS ? `${k.flags} (combined)` : String(k.flags), isoTime(k.createdAt)]);
    for (const line of table([['ZONE', 'KEY TAG', 'ALGORITHM', 'FLAGS', 'CREATED'], ...rows])) ctx.out(line);
  },
};

export const dnssecCommand = group('dnssec', GROUP_SUMMARY.dnssec, { enable, ds: dsCommand, disable, list });
