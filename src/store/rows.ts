// Plain rows the store hands to the snapshot builder and the CLI: no kysely or pg types leak past here.
//
// Conventions shared by the SQL schema, the CLI, the zone-file reader and the snapshot:
// - every domain name is absolute, lower case, with no trailing dot ("www.example.test");
//   the root is "." (only meaningful as an RDATA target, e.g. a null MX "0 .").
// - `content` is the canonical presentation text of the RDATA, as src/records/content.ts
//   produces it (A "192.0.2.1"; AAAA RFC 5952 form; NS/CNAME/PTR "target.example.test";
//   MX "10 mail.example.test"; TXT one or more quoted strings '"v=spf1 -all" "x"';
//   SRV "10 5 5060 sip.example.test"; CAA '0 issue "ca.example"'; the newer types as
//   src/records/native-types.ts writes them, e.g. HTTPS "1 . alpn=h2,h3 port=443"; any other data
//   type as type "TYPEnnn" with RFC 3597 content "\# 4 c0000201").

export const RECORD_TYPES = [
  'A', 'AAAA', 'CNAME', 'NS', 'MX', 'TXT', 'SRV', 'CAA', 'PTR',
  'DNAME', 'HINFO', 'RP', 'NAPTR', 'LOC', 'URI', 'CERT', 'SSHFP', 'DS', 'CDS', 'DNSKEY', 'CDNSKEY', 'TLSA', 'SMIMEA',
  'OPENPGPKEY', 'SVCB', 'HTTPS',
] as const;
export type RecordType = (typeof RECORD_TYPES)[number];

export interface ZoneRow {
  readonly id: number;
  readonly name: string;
  readonly mname: string;
  readonly rname: string;
  readonly serial: number;
  readonly refresh: number;
  readonly retry: number;
  readonly expire: number;
  readonly minimum: number;
  /** Default TTL of the zone's records, and the TTL of the SOA record itself. */
  readonly ttl: number;
}

export interface RecordRow {
  readonly id: number;
  readonly zoneId: number;
  readonly name: string;
  readonly type: string;
  /** null: the zone's default TTL. */
  readonly ttl: number | null;
  readonly content: string;
}

export const POLICIES = ['wrr', 'geo', 'hash'] as const;
export const CHECK_KINDS = ['http', 'https', 'tcp'] as const;

/** A load-balanced name: answered with some of its healthy members' addresses. */
export interface PoolRow {
  readonly id: number;
  readonly zoneId: number;
  readonly name: string;
  readonly policy: string;
  readonly ttl: number;
  /** Addresses per answer. */
  readonly count: number;
  readonly allDown: 'open' | 'servfail';
  readonly checkKind: string;
  readonly checkPort: number;
  readonly checkPath: string;
  readonly checkHost: string | null;
  readonly expectStatusMin: number;
  readonly expectStatusMax: number;
  readonly checkInsecure: boolean;
  readonly timeoutMs: number;
  readonly intervalMs: number;
  readonly rise: number;
  readonly fall: number;
  /** The hash policy's client-network prefix lengths (absent in rows saved before they existed: /24 and /56). */
  readonly hashPrefixV4?: number;
  readonly hashPrefixV6?: number;
}

export interface PoolMemberRow {
  readonly id: number;
  readonly poolId: number;
  /** IPv4 or IPv6, canonical text. */
  readonly address: string;
  readonly probeAddress: string | null;
  readonly weight: number;
  readonly priority: number;
  readonly enabled: boolean;
  /** ISO 3166-1 alpha-2, upper case. */
  readonly country: string | null;
  /** AF AN AS EU NA OC SA. */
  readonly continent: string | null;
  readonly region: string | null;
  readonly latitude: number | null;
  readonly longitude: number | null;
}

/** CIDR → location, consulted before the GeoIP database. */
export interface GeoNetworkRow {
  readonly id: number;
  /** Canonical CIDR text, e.g. "198.51.100.0/24". */
  readonly network: string;
  readonly country: string | null;
  readonly continent: string | null;
  readonly region: string | null;
  readonly latitude: number | null;
  readonly longitude: number | null;
}

/** Everything a snapshot is built from, read in one transaction. */
export interface StoreContents {
  /** The config version counter at the time of reading. */
  readonly version: number;
  readonly zones: readonly ZoneRow[];
  readonly records: readonly RecordRow[];
  readonly pools?: readonly PoolRow[];
  readonly members?: readonly PoolMemberRow[];
  readonly geoNetworks?: readonly GeoNetworkRow[];
}
