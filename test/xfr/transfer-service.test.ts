// AXFR/IXFR answered by TransferService on a real TCP socket and checked with the real dig: message splitting, TSIG chained over every message, IXFR fallback, refusals.
import { execFile } from 'node:child_process';
import net from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Snapshot } from '../../src/core/snapshot.js';
import { TransferEncoder } from '../../src/core/transfer.js';
import { EMPTY_HEALTH } from '../../src/health/health-view.js';
import { createLogger } from '../../src/obs/log.js';
import { createMetrics } from '../../src/obs/metrics.js';
import { buildSnapshot } from '../../src/snapshot/build.js';
import type { RecordRow } from '../../src/store/rows.js';
import type { TsigKey, ZoneTransferSettings } from '../../src/store/transfer-queries.js';
import { parseMessage } from '../../src/xfr/message.js';
import { TransferService, type JournalStep } from '../../src/xfr/transfer-service.js';
import { onPath, underCi } from '../helpers/prerequisite.js';

const run = promisify(execFile);
const haveDig = onPath('dig') !== undefined;
if (!haveDig && underCi()) throw new Error('dig is missing, and CI must run this test');

const RECORDS = 3000;
const KEYS: TsigKey[] = [
  { name: 'k256', algorithm: 'hmac-sha256', secret: Buffer.alloc(32, 1).toString('base64') },
  { name: 'k512', algorithm: 'hmac-sha512', secret: Buffer.alloc(64, 2).toString('base64') },
  { name: 'k1', algorithm: 'hmac-sha1', secret: Buffer.alloc(20, 3).toString('base64') },
  { name: 'other', algorithm: 'hmac-sha256', secret: Buffer.alloc(32, 4).toString('base64') },
];

function snapshotOf(serial: number): Snapshot {
  const records: RecordRow[] = [{ id: 1, zoneId: 1, name: 'big.test', type: 'NS', ttl: null, content: 'ns1.big.test' }];
  for (let i = 0; i < RECORDS; i++) records.push({ id: i + 2, zoneId: 1, name: `host${i}.big.test`, type: 'A', ttl: 300, content: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` });
  return buildSnapshot({
    version: 1,
    zones: [{ id: 1, name: 'big.test', mname: 'ns1.big.test', rname: 'hostmaster.big.test', serial, refresh: 3600, retry: 600, expire: 86400, minimum: 300, ttl: 3600 }],
    records,
  }).snapshot;
}

let snapshot = snapshotOf(10);
let settings: ZoneTransferSettings = { zone: 'big.test', serial: 10, allowTransfer: [], keys: ['k256', 'k512', 'k1'], notify: [], poolSet: undefined };
let journal: ((fromSerial: number) => JournalStep[] | undefined) | undefined;
const metrics = createMetrics({ defaultMetrics: false });
const service = new TransferService({
  snapshot: () => snapshot,
  health: () => EMPTY_HEALTH,
  settings: async (zone) => (zone === settings.zone ? settings : undefined),
  keys: async () => KEYS,
  journal: async (_zone, from) => journal?.(from),
  metrics,
  log: createLogger('silent'),
  messageSize: 4096,
});
let server: net.Server;
let port = 0;

beforeAll(async () => {
  server = net.createServer((conn) => {
    let buffered = Buffer.alloc(0);
    conn.on('error', () => undefined);
    conn.on('data', async (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
        const packet = buffered.subarray(2, 2 + buffered.readUInt16BE(0));
        buffered = buffered.subarray(2 + packet.length);
        await service.handle(Buffer.from(packet), conn.remoteAddress ?? '', async (m) => {
          const len = Buffer.alloc(2);
          len.writeUInt16BE(m.length);
          conn.write(Buffer.concat([len, m]));
        });
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as net.AddressInfo).port;
});

afterAll(() => new Promise<void>((r) => server.close(() => r())));

async function digXfr(args: string[]): Promise<string> {
  const r = await run('dig', ['@127.0.0.1', '-p', String(port), '+tcp', '+time=5', '+tries=1', ...args]).catch((e) => e);
  return String(r.stdout);
}

function summary(out: string): { records: number; messages: number } | undefined {
  const m = /XFR size: (\d+) records \(messages (\d+)/.exec(out);
  return m ? { records: Number(m[1]), messages: Number(m[2]) } : undefined;
}

describe('TransferEncoder', () => {
  it('splits into messages under the size, SOA first and last, every RR once, the question only in the first', () => {
    const zone = snapshot.zones.get('big.test')!;
    const rrs = [...(function* () {
      yield { name: 'big.test', type: 6, cls: 1, ttl: 1, rdata: zone.soa.rdata[0] };
      for (let i = 0; i < 500; i++) yield { name: `n${i}.big.test`, type: 1, cls: 1, ttl: 60, rdata: Uint8Array.of(10, 0, i >> 8, i & 255) };
      yield { name: 'big.test', type: 6, cls: 1, ttl: 1, rdata: zone.soa.rdata[0] };
    })()];
    const question = Buffer.from('03626967047465737400 00fc 0001'.replace(/ /g, ''), 'hex');
    const enc = new TransferEncoder({ id: 7, question }, rrs, 1024);
    const names: string[] = [];
    let first = true;
    for (let m = enc.next(); m !== undefined; m = enc.next()) {
      expect(m.length).toBeLessThanOrEqual(1024);
      const p = parseMessage(m);
      expect(p.id).toBe(7);
      expect(p.flags & 0x8400).toBe(0x8400);
      expect(p.question !== undefined).toBe(first);
      first = false;
      names.push(...p.records.map((r) => `${r.name}/${r.type}`));
    }
    expect(enc.messages).toBeGreaterThan(10);
    expect(names).toEqual(rrs.map((r) => `${r.name}/${r.type}`));
  });

  it('puts an RR larger than the size alone in its own message rather than dropping it', () => {
    const big = { name: 'txt.big.test', type: 16, cls: 1, ttl: 60, rdata: new Uint8Array(3000) };
    const small = { name: 'a.big.test', type: 1, cls: 1, ttl: 60, rdata: Uint8Array.of(1, 2, 3, 4) };
    const enc = new TransferEncoder({ id: 1, question: Buffer.from('0000fc0001', 'hex') }, [small, big, small], 1024);
    const counts: number[] = [];
    for (let m = enc.next(); m !== undefined; m = enc.next()) counts.push(parseMessage(m).records.length);
    expect(counts).toEqual([1, 1, 1]);
  });
});

describe.skipIf(!haveDig)('AXFR and IXFR checked by dig', () => {
  for (const key of KEYS.slice(0, 3)) {
    it(`AXFR signed with ${key.algorithm}: dig verifies every one of the messages`, async () => {
      const out = await digXfr(['big.test', 'AXFR', '-y', `${key.algorithm}:${key.name}:${key.secret}`]);
      expect(out).not.toMatch(/Couldn't verify|tsig indicates error|Transfer failed/);
      // SOA + NS + the A records + SOA.
      expect(summary(out)).toEqual({ records: RECORDS + 3, messages: expect.any(Number) });
      expect(summary(out)!.messages).toBeGreaterThan(5);
      const lines = out.split('\n').filter((l) => /\tIN\t/.test(l));
      expect(lines[0]).toMatch(/\tSOA\t.* 10 3600 600 86400 300$/);
      expect(lines.at(-1)).toMatch(/\tSOA\t/);
    });
  }

  it('refuses an unsigned AXFR from an address not listed, then serves it once the address is listed', async () => {
    expect(await digXfr(['big.test', 'AXFR'])).toMatch(/Transfer failed/);
    settings = { ...settings, allowTransfer: ['127.0.0.0/8'] };
    try {
      expect(summary(await digXfr(['big.test', 'AXFR']))?.records).toBe(RECORDS + 3);
    } finally {
      settings = { ...settings, allowTransfer: [] };
    }
  });

  it('answers a key the zone does not list with REFUSED, an unknown key with BADKEY, a wrong secret with BADSIG', async () => {
    const other = KEYS[3];
    expect(await digXfr(['big.test', 'AXFR', '-y', `hmac-sha256:${other.name}:${other.secret}`])).toMatch(/Transfer failed/);
    expect(await digXfr(['big.test', 'AXFR', '-y', `hmac-sha256:nokey:${other.secret}`])).toMatch(/BADKEY/);
    expect(await digXfr(['big.test', 'AXFR', '-y', `hmac-sha256:k256:${other.secret}`])).toMatch(/BADSIG/);
  });

  it('IXFR from the current serial is the SOA alone; from an older one without a journal, the whole zone (RFC 1995 §4)', async () => {
    const y = ['-y', `hmac-sha256:k256:${KEYS[0].secret}`];
    expect(summary(await digXfr(['big.test', 'IXFR=10', ...y]))).toEqual({ records: 1, messages: 1 });
    expect(summary(await digXfr(['big.test', 'IXFR=9', ...y]))?.records).toBe(RECORDS + 3);
  });

  it('IXFR within the journal: the steps, each old SOA, removals, new SOA, additions', async () => {
    snapshot = snapshotOf(12);
    const a = (ip: string, name = 'x.big.test') => ({ name, type: 1, cls: 1, ttl: 60, rdata: Uint8Array.from(ip.split('.').map(Number)) });
    journal = (from) =>
      from === 10
        ? [
            { fromSerial: 10, toSerial: 11, removed: [], added: [a('192.0.2.1')] },
            { fromSerial: 11, toSerial: 12, removed: [a('192.0.2.1')], added: [a('192.0.2.2')] },
          ]
        : undefined;
    try {
      const out = await digXfr(['big.test', 'IXFR=10', '-y', `hmac-sha256:k256:${KEYS[0].secret}`]);
      const lines = out.split('\n').filter((l) => /\tIN\t/.test(l)).map((l) => l.split(/\s+/));
      expect(lines.map((f) => (f[3] === 'SOA' ? `SOA ${f[6]}` : `${f[3]} ${f[4]}`))).toEqual([
        'SOA 12',
        'SOA 10',
        'SOA 11',
        'A 192.0.2.1',
        'SOA 11',
        'A 192.0.2.1',
        'SOA 12',
        'A 192.0.2.2',
        'SOA 12',
      ]);
      // Older than the journal reaches: the whole zone.
      expect(summary(await digXfr(['big.test', 'IXFR=5', '-y', `hmac-sha256:k256:${KEYS[0].secret}`]))?.records).toBe(RECORDS + 3);
    } finally {
      journal = undefined;
      snapshot = snapshotOf(10);
    }
  });
});
