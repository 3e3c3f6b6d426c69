// Zone export: the file's shape, the round trip through parseZoneFile, and named-checkzone's verdict.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LbdnsError } from '../../src/errors.js';
import type { RecordRow, ZoneRow } from '../../src/store/rows.js';
import { exportZone } from '../../src/zonefile/export.js';
import { parseZoneFile, type ParsedZone } from '../../src/zonefile/parse.js';
import { need, onPath } from '../helpers/prerequisite.js';

// bind9-utils, which .ci/run installs; wherever PATH has it (Debian: /usr/bin, others: /usr/sbin or /usr/local).
const NAMED_CHECKZONE = onPath('named-checkzone');

const ZONE: ZoneRow = {
  id: 7,
  name: 'example.test',
  mname: 'ns1.example.test',
  rname: 'hostmaster.example.test',
  serial: 2024010101,
  refresh: 7200,
  retry: 900,
  expire: 1209600,
  minimum: 300,
  ttl: 3600,
};

/** Store rows as the import would create them from a parsed zone. */
function rowsOf(zone: ParsedZone): { zone: ZoneRow; records: RecordRow[] } {
  return {
    zone: { id: 1, name: zone.origin, ...zone.soa },
    records: zone.records.map((r, i) => ({ id: i + 1, zoneId: 1, name: r.name, type: r.type, ttl: r.ttl, content: r.content })),
  };
}

/** Records without line numbers, in a stable order, for comparing two parses. */
function recordSet(zone: ParsedZone): string[] {
  return zone.records.map((r) => `${r.name} ${r.ttl ?? '-'} ${r.type} ${r.content}`).sort();
}

const sample = (): ParsedZone =>
  parseZoneFile(readFileSync('zones/example.test.zone', 'utf8'), { file: 'zones/example.test.zone' });

const row = (id: number, name: string, type: string, content: string, ttl: number | null = null): RecordRow => ({
  id,
  zoneId: 7,
  name,
  type,
  ttl,
  content,
});

describe('exportZone', () => {
  it('writes $ORIGIN, $TTL, the SOA, then records by name and type with absolute names', () => {
    const text = exportZone(ZONE, [
      row(1, 'www.example.test', 'CNAME', 'web.example.test'),
      row(2, 'a.example.test', 'MX', '10 mail.example.test', 60),
      row(3, 'example.test', 'NS', 'ns1.example.test'),
      row(4, 'a.example.test', 'A', '192.0.2.1'),
      row(5, '_sip._udp.example.test', 'SRV', '1 2 3 sip.example.test'),
      row(6, 'example.test', 'MX', '0 .'),
      row(7, '*.wild.example.test', 'TXT', '"a b" "c"'),
      row(8, 'z.a.example.test', 'CAA', '0 issue "ca.example"'),
    ]);
    expect(text.split('\n')).toEqual([
      '; zone example.test, serial 2024010101',
      '$ORIGIN example.test.',
      '$TTL 3600',
      'example.test.              IN SOA ns1.example.test. hostmaster.example.test. 2024010101 7200 900 1209600 300',
      'example.test.              IN MX 0 .',
      'example.test.              IN NS ns1.example.test.',
      '_sip._udp.example.test.    IN SRV 1 2 3 sip.example.test.',
      'a.example.test.            IN A 192.0.2.1',
      'a.example.test.         60 IN MX 10 mail.example.test.',
      'z.a.example.test.          IN CAA 0 issue "ca.example"',
      '*.wild.example.test.       IN TXT "a b" "c"',
      'www.example.test.          IN CNAME web.example.test.',
      '',
    ]);
  });

  it('canonicalises content written by hand in SQL', () => {
    const text = exportZone(ZONE, [row(1, 'www.example.test', 'CNAME', 'Web.Example.Test.')]);
    expect(text).toContain('IN CNAME web.example.test.\n');
  });

  it('names the bad row when content is invalid', () => {
    expect(() => exportZone(ZONE, [row(42, 'www.example.test', 'A', '300.1.1.1')])).toThrow(LbdnsError);
    expect(() => exportZone(ZONE, [row(42, 'www.example.test', 'A', '300.1.1.1')])).toThrow(
      /^record 42 \(www\.example\.test A\): A record content "300\.1\.1\.1" is not an IPv4 address$/,
    );
  });

  it('round-trips the sample zone through parseZoneFile', () => {
    const first = sample();
    const { zone, records } = rowsOf(first);
    const again = parseZoneFile(exportZone(zone, records), { file: 'export.zone' });
    expect(again.origin).toBe(first.origin);
    expect(again.soa).toEqual(first.soa);
    expect(recordSet(again)).toEqual(recordSet(first));
  });

  it('round-trips explicit TTLs, including one equal to the default', () => {
    const records = [row(1, 'a.example.test', 'A', '192.0.2.1', 3600), row(2, 'b.example.test', 'A', '192.0.2.2', 5)];
    const again = parseZoneFile(exportZone(ZONE, records), { file: 'export.zone' });
    expect(again.records.map((r) => r.ttl)).toEqual([3600, 5]);
  });

  it('is accepted by named-checkzone', (ctx) => {
    need(ctx, NAMED_CHECKZONE === undefined ? 'named-checkzone is not on PATH (bind9-utils)' : undefined);
    const { zone, records } = rowsOf(sample());
    const dir = mkdtempSync(join(tmpdir(), 'lbdns-export-'));
    try {
      const file = join(dir, 'example.test.zone');
      writeFileSync(file, exportZone(zone, records));
      // Throws with named-checkzone's output on a non-zero exit; `-i local` keeps it from resolving names below the delegation.
      const out = execFileSync(NAMED_CHECKZONE!, ['-i', 'local', '-k', 'fail', '-n', 'fail', 'example.test', file], { encoding: 'utf8' });
      expect(out).toContain('OK');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
