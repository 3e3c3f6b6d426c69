// The record types lbdns stores and serves by mnemonic (any other data type goes in as TYPEnnn, RFC 3597).
export const RECORD_TYPES = [
  'A', 'AAAA', 'CNAME', 'NS', 'MX', 'TXT', 'SRV', 'CAA', 'PTR',
  'DNAME', 'HINFO', 'RP', 'NAPTR', 'LOC', 'URI', 'CERT', 'SSHFP', 'DS', 'CDS', 'DNSKEY', 'CDNSKEY', 'TLSA', 'SMIMEA',
  'OPENPGPKEY', 'SVCB', 'HTTPS',
] as const;
export type RecordType = (typeof RECORD_TYPES)[number];
