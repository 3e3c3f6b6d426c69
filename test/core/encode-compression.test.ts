// Name compression in replies: correct whether a reply has few names (the writer's reused arrays) or many (a Map
// made for the reply), and free of old-generation garbage: answering distinct names must not grow the old space.
// A writer that kept one Map and cleared it per reply left a dead table in the old generation per reply, whose slots
// kept that reply's young name strings alive and promoted (~200 bytes a reply, a full collection every ~1.5 s at
// 25,000 distinct names a second).
import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import type { AnswerContext } from '../../src/core/answer.js';
import { QTYPE } from '../../src/core/constants.js';
import { respond } from '../../src/core/respond.js';
import { buildSnapshot } from '../../src/snapshot/build.js';
import type { RecordRow, ZoneRow } from '../../src/store/rows.js';
import { buildQuery, decodeReply } from '../helpers/wire.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const zone: ZoneRow = { id: 1, name: 'example.test', mname: 'ns0.example.test', rname: 'hostmaster.example.test', serial: 1, refresh: 3600, retry: 600, expire: 604800, minimum: 300, ttl: 3600 };
let id = 1;
const rec = (name: string, type: string, content: string): RecordRow => ({ id: id++, zoneId: 1, name, type, ttl: null, content });
// 40 name servers, each in its own subdomain, with glue: the NS answer's additional section has 40 owner names and
// 41 distinct suffixes to compress, more than the writer keeps in its arrays.
const records: RecordRow[] = [];
for (let i = 0; i < 40; i++) {
  records.push(rec('example.test', 'NS', `ns.d${i}.example.test`));
  records.push(rec(`ns.d${i}.example.test`, 'A', `192.0.2.${i + 1}`));
}
records.push(rec('www.example.test', 'A', '192.0.2.100'));
const { snapshot } = buildSnapshot({ version: 1, zones: [zone], records });
const ctx: AnswerContext = { nodeName: 'test', choose: () => { throw new Error('no pools here'); } } as unknown as AnswerContext;

describe('reply name compression', () => {
  it('writes every owner name right in a reply with more suffixes than the arrays hold, and compresses them', () => {
    const out = respond(snapshot, buildQuery({ name: 'example.test', qtype: QTYPE.NS, edns: { udpSize: 65000 } }), '127.0.0.1', true, ctx);
    const reply = decodeReply(out.reply!);
    expect(reply.answers.map((r: { ns: string }) => r.ns).sort()).toEqual(Array.from({ length: 40 }, (_, i) => `ns.d${i}.example.test`).sort());
    const glue = reply.additionals.map((r: { name: string; address: string }) => `${r.name} ${r.address}`).sort();
    expect(glue).toEqual(Array.from({ length: 40 }, (_, i) => `ns.d${i}.example.test 192.0.2.${i + 1}`).sort());
    // Compressed: each glue owner is its first two labels and a pointer to example.test (8 octets), not the 20 of
    // the name written out whole (NS RDATA here is written whole: 40 × 32 octets of answers): 2,261 octets against
    // 2,741 uncompressed.
    expect(out.reply!.length).toBeLessThan(2400);
  });

  it('100,000 replies for distinct names leave no garbage in the old generation (growth summed over the run)', () => {
    const q = buildQuery({ name: 'r0000000.example.test' });
    const at = 12 + 2;
    const oldSpace = (): number => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'old_space')!.space_used_size;
    // Warm up, then start from a collected heap.
    for (let i = 0; i < 5000; i++) respond(snapshot, q, '127.0.0.1', false, ctx);
    gc();
    let grown = 0;
    let last = oldSpace();
    let nx = 0;
    for (let i = 0; i < 100_000; i++) {
      for (let d = 6, n = i; d >= 0; d--, n = Math.floor(n / 10)) q[at + d] = 48 + (n % 10);
      if (respond(snapshot, q, '127.0.0.1', false, ctx).rcode === 3) nx++;
      if (i % 1000 === 999) {
        const now = oldSpace();
        // A full collection in between shrinks it: only growth is summed.
        if (now > last) grown += now - last;
        last = now;
      }
    }
    expect(nx).toBe(100_000);
    // ~200 bytes a reply would be ~20 MB.
    expect(grown).toBeLessThan(4 * 1024 * 1024);
  });
});
