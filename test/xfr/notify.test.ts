// NOTIFY to a secondary that answers late: retried with doubling waits, signed, and an unsigned acknowledgement does not count.
import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/obs/log.js';
import { createMetrics } from '../../src/obs/metrics.js';
import { buildSnapshot } from '../../src/snapshot/build.js';
import type { TsigKey } from '../../src/store/transfer-queries.js';
import { NotifySender, parseTarget } from '../../src/xfr/notify.js';
import { findTsig, sign, verify } from '../../src/xfr/tsig.js';

const zone = buildSnapshot({
  version: 1,
  zones: [{ id: 1, name: 'n.test', mname: 'ns1.n.test', rname: 'hostmaster.n.test', serial: 77, refresh: 3600, retry: 600, expire: 86400, minimum: 300, ttl: 3600 }],
  records: [],
}).snapshot.zones.get('n.test')!;
const key: TsigKey = { name: 'nkey', algorithm: 'hmac-sha256', secret: Buffer.alloc(32, 5).toString('base64') };

let secondary: dgram.Socket | undefined;
let sender: NotifySender | undefined;
afterEach(() => {
  sender?.stop();
  sender = undefined;
  secondary?.close();
  secondary = undefined;
});

/** A secondary that ignores the first `ignore` NOTIFYs, then acknowledges (signed when `signReplies`). */
async function fakeSecondary(ignore: number, signReplies: boolean): Promise<{ port: number; got: { at: number; verified: boolean }[] }> {
  const got: { at: number; verified: boolean }[] = [];
  secondary = dgram.createSocket('udp4');
  secondary.on('message', (msg, rinfo) => {
    const tsig = findTsig(msg)!;
    const verified = verify(msg, tsig, (n) => (n === key.name ? key : undefined), Math.floor(Date.now() / 1000)).ok;
    got.push({ at: Date.now(), verified });
    if (got.length <= ignore) return;
    const reply = Buffer.from(msg.subarray(0, tsig.start));
    reply[2] |= 0x80;
    reply.writeUInt16BE(reply.readUInt16BE(10) - 1, 10);
    const out = signReplies ? sign(reply, key, { prior: tsig.mac, time: Math.floor(Date.now() / 1000) }).message : reply;
    secondary!.send(out, rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => secondary!.bind(0, '127.0.0.1', r));
  return { port: secondary.address().port, got };
}

function newSender(port: number, tries = 5) {
  const metrics = createMetrics({ defaultMetrics: false });
  sender = new NotifySender({
    settings: async () => ({ zone: 'n.test', serial: 77, allowTransfer: [], keys: ['nkey'], notify: [`127.0.0.1:${port}`], poolSet: undefined }),
    keys: async () => [key],
    metrics,
    log: createLogger('silent'),
    tries,
    firstDelayMs: 100,
  });
  return metrics;
}

describe('NotifySender', () => {
  it('retries with doubling waits until the signed acknowledgement', async () => {
    const s = await fakeSecondary(2, true);
    const metrics = newSender(s.port);
    await sender!.notify(zone);
    expect(s.got).toHaveLength(3);
    expect(s.got.every((g) => g.verified)).toBe(true);
    const gaps = [s.got[1].at - s.got[0].at, s.got[2].at - s.got[1].at];
    expect(gaps[0]).toBeGreaterThanOrEqual(90);
    expect(gaps[1]).toBeGreaterThanOrEqual(190);
    const text = await metrics.registry.metrics();
    expect(text).toContain('lbdns_xfr_notify_total{zone="n.test",result="acked"} 1');
    expect(text).toContain('lbdns_xfr_notify_total{zone="n.test",result="retried"} 2');
  });

  it('does not take an unsigned acknowledgement of a signed NOTIFY, and gives up after the last try', async () => {
    const s = await fakeSecondary(0, false);
    const metrics = newSender(s.port, 3);
    const t0 = Date.now();
    await sender!.notify(zone);
    expect(s.got).toHaveLength(3);
    // Waits of 100 and 200 ms between the tries, even though every try was answered at once.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(280);
    expect(await metrics.registry.metrics()).toContain('lbdns_xfr_notify_total{zone="n.test",result="failed"} 1');
  });

  it('reads address:port and [v6]:port targets, and nothing else', () => {
    expect(parseTarget('127.0.0.1:5353')).toEqual({ host: '127.0.0.1', port: 5353 });
    expect(parseTarget('[::1]:53')).toEqual({ host: '::1', port: 53 });
    for (const bad of ['127.0.0.1', 'localhost:53', '[::1]', '127.0.0.1:0', '127.0.0.1:70000']) expect(() => parseTarget(bad)).toThrow();
  });
});
