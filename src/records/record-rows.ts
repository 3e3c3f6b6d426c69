// A zone's SOA row and its records as plain values: what the store reads, zone files write and snapshots are built from.
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
