// DNS numbers the core speaks: types, classes, rcodes, opcodes (RFC 1035, 3597, 6672, 6891, 7871, 8482).

export const QTYPE = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  HINFO: 13,
  MX: 15,
  TXT: 16,
  RP: 17,
  AAAA: 28,
  LOC: 29,
  SRV: 33,
  NAPTR: 35,
  CERT: 37,
  DNAME: 39,
  OPT: 41,
  DS: 43,
  SSHFP: 44,
  DNSKEY: 48,
  TLSA: 52,
  SMIMEA: 53,
  CDS: 59,
  CDNSKEY: 60,
  OPENPGPKEY: 61,
  SVCB: 64,
  HTTPS: 65,
  IXFR: 251,
  AXFR: 252,
  MAILB: 253,
  MAILA: 254,
  ANY: 255,
  URI: 256,
  CAA: 257,
} as const;

export const TYPE_NAME: Readonly<Record<number, string>> = Object.freeze(
  Object.fromEntries(Object.entries(QTYPE).map(([k, v]) => [v, k])),
);

/** Presentation name of a type code; RFC 3597 TYPEnnn for the rest. */
export function typeName(code: number): string {
  return TYPE_NAME[code] ?? `TYPE${code}`;
}

export function typeCode(name: string): number | undefined {
  const upper = name.toUpperCase();
  const known = (QTYPE as Record<string, number>)[upper];
  if (known !== undefined) return known;
  const m = /^TYPE(\d{1,5})$/.exec(upper);
  return m && Number(m[1]) <= 65535 ? Number(m[1]) : undefined;
}

export const QCLASS = { IN: 1, CH: 3, ANY: 255 } as const;

export const RCODE = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  /** RFC 6672 §2.2: a DNAME substitution made a name longer than 255 octets. */
  YXDOMAIN: 6,
  /** Extended (RFC 6891): 16 = 0x10, carried as 1 in the OPT's extended-rcode byte. */
  BADVERS: 16,
} as const;

export const RCODE_NAME: Readonly<Record<number, string>> = Object.freeze(
  Object.fromEntries(Object.entries(RCODE).map(([k, v]) => [v, k])),
);

export const OPCODE_QUERY = 0;

/** Our advertised EDNS UDP payload size (DNS flag day 2020). */
export const EDNS_UDP_SIZE = 1232;
export const EDNS_OPTION_ECS = 8;

/** Largest UDP reply we send without EDNS (RFC 1035 §4.2.1). */
export const CLASSIC_UDP_SIZE = 512;
