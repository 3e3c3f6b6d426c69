// The snapshot file, written in pieces: what is read back is what was written, every table and key byte included.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readSnapshotFile, writeSnapshotFile } from '../../src/snapshot/snapshot-file.js';
import type { StoreContents } from '../../src/store/rows.js';

const dir = mkdtempSync(join(tmpdir(), 'lbdns-snapfile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function contents(records: number): StoreContents {
  const zones = [1, 2, 3].map((id) => ({ id, name: `z${id}.test`, mname: `ns.z${id}.test`, rname: `h.z${id}.test`, serial: id, refresh: 3600, retry: 600, expire: 86400, minimum: 60, ttl: 300 }));
  return {
    version: 42,
    stamp: '1234',
    zones,
    records: Array.from({ length: records }, (_, i) => ({ id: i + 1, zoneId: (i % 3) + 1, name: `h${i}.z${(i % 3) + 1}.test`, type: i % 7 === 0 ? 'TXT' : 'A', ttl: i % 2 ? null : 60, content: i % 7 === 0 ? `"quote \\" and ü ${i}"` : `10.0.${i >> 8}.${i & 255}` })),
    pools: [],
    members: [
      {
        id: 1, poolId: 1, address: '192.0.2.1', probeAddress: null, weight: 1, priority: 0, enabled: true, country: 'DE', continent: 'EU', region: null, latitude: 50.1, longitude: 8.6,
        maintenance: [{ id: 3, cron: '0 3 * * *', durationMs: 60_000, tz: 'UTC', reason: 'nightly', by: 'ops' }],
      },
    ],
    geoNetworks: [],
    dnssecKeys: [{ zoneId: 2, algorithm: 13, flags: 257, keyTag: 12345, publicKey: Uint8Array.from([1, 2, 3, 250]), privateKey: Uint8Array.from([9, 8, 7]) }],
  } as StoreContents;
}

describe('snapshot file', () => {
  it('reads back every row written in pieces, and is one JSON document', async () => {
    for (const n of [0, 1, 499, 500, 501, 1234]) {
      const path = join(dir, `snap-${n}.json`);
      const c = contents(n);
      await writeSnapshotFile(path, c, 'node-a');
      const text = readFileSync(path, 'utf8');
      const body = JSON.parse(text) as { format: number; node: string; savedAt: string; contents: { records: unknown[] } };
      expect(body.format).toBe(1);
      expect(body.node).toBe('node-a');
      expect(body.contents.records).toHaveLength(n);
      const back = await readSnapshotFile(path);
      expect(back?.contents).toEqual(c);
      expect(Date.parse(back!.savedAt)).toBeGreaterThan(Date.now() - 60_000);
    }
  });
});
