// Special-purpose address blocks (RFC 6890 registries) that no GeoIP database can place: only geo_networks may.
//
// GeoIP data for these is noise at best: the bundled database, for one, places 172.16.0.0/12 and 192.168.0.0/16 in
// Australia (some provider's geofeed lists them). A resolver on a private network is the operator's to place.
import { maskBytes, parseNetwork, type Address } from './address.js';

const BLOCKS = [
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.0.0.0/24',
  '192.0.2.0/24',
  '192.168.0.0/16',
  '198.18.0.0/15',
  '198.51.100.0/24',
  '203.0.113.0/24',
  '224.0.0.0/3',
  '::/127',
  '100::/64',
  '2001:db8::/32',
  'fc00::/7',
  'fe80::/10',
  'ff00::/8',
].map((text) => ({ text, ...parseNetwork(text)! }));

/** The special-purpose block that holds the whole network, if any (a network wider than a block is not inside it). */
export function specialBlock(net: Address & { readonly prefix: number }): { readonly text: string; readonly prefix: number } | undefined {
  for (const b of BLOCKS) {
    if (b.family !== net.family || net.prefix < b.prefix) continue;
    const masked = maskBytes(net.bytes, b.prefix);
    if (masked.every((x, i) => x === b.bytes[i])) return b;
  }
  return undefined;
}
