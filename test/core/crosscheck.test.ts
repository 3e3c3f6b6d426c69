// Our own query decoder and reply encoder checked against dns2's parser over a large generated set of queries.
import { readFileSync } from 'node:fs';
import dns2 from 'dns2';
import { describe, expect, it } from 'vitest';
import { answerQuery, type AnswerContext } from '../../src/core/answer.js';
import { encodeAnswer, replyLimit } from '../../src/core/encode.js';
import { decodeQuery } from '../../src/core/query.js';
import { buildSnapshot } from '../../src/snapshot/build.js';
import { parseZoneFile } from '../../src/zonefile/parse.js';
import { prng } from '../fuzz/mutate.js';
import { ROOT } from '../helpers/server.js';
import { buildQuery } from '../helpers/wire.js';

const Packet = (dns2 as any).Packet;
const parsed = parseZoneFile(readFileSync(`${ROOT}/zones/example.test.zone`, 'utf8'), { file: 'example.test.zone' });
const snapshot = buildSnapshot({ version: 1, zones: [{ id: 1, name: parsed.origin, ...parsed.soa }], records: parsed.records.map((r, i) => ({ id: i + 1, zoneId: 1, ...r })) }).snapshot;
const ctx: AnswerContext = { nodeName: 'x', choose: (p) => ({ members: p.members, scope: 0, allDown: false }) };
const names = [...snapshot.zones.get('example.test')!.nodes.keys(), 'missing.example.test', 'a.b.c.wild.example.test', 'x.sub.example.test', 'example.org'];
const types = [1, 2, 5, 6, 15, 16, 28, 33, 255, 257];

function mixCase(name: string, rand: () => number): string {
  return [...name].map((c) => (rand() < 0.5 ? c.toUpperCase() : c)).join('');
}

describe('decoder and encoder against dns2', () => {
  it('agree on 5,000 generated queries and their replies', () => {
    const rand = prng(7);
    for (let i = 0; i < 5_000; i++) {
      const name = names[Math.floor(rand() * names.length)];
      const withEdns = rand() < 0.6;
      const packet = buildQuery({
        id: Math.floor(rand() * 65536),
        name: mixCase(name, rand),
        qtype: types[Math.floor(rand() * types.length)],
        rd: rand() < 0.5,
        edns: withEdns ? { udpSize: [512, 1232, 4096][Math.floor(rand() * 3)], dnssecOk: rand() < 0.3, ecs: rand() < 0.5 ? { family: 1, source: 24, address: [198, 51, 100] } : undefined } : undefined,
      });
      const ours = decodeQuery(packet);
      const theirs = Packet.parse(packet);
      expect(ours.kind).toBe('query');
      if (ours.kind !== 'query') continue;
      const q = ours.query;
      expect(q.id).toBe(theirs.header.id);
      expect(q.rd).toBe(!!theirs.header.rd);
      expect(q.qname).toBe(theirs.questions[0].name.toLowerCase());
      expect(q.qtype).toBe(theirs.questions[0].type);
      expect(q.qclass).toBe(theirs.questions[0].class);
      const opt = theirs.additionals.find((r: any) => r.type === 41);
      expect(q.edns?.udpSize).toBe(opt?.class);
      const ecs = opt?.rdata?.find((o: any) => o.ednsCode === 8);
      if (ecs) expect([q.edns!.ecs!.family, q.edns!.ecs!.sourcePrefix, [...q.edns!.ecs!.address.subarray(0, 4)].join('.')]).toEqual([ecs.family, ecs.sourcePrefixLength, ecs.ip]);

      const answer = answerQuery(snapshot, q, { address: '192.0.2.1', ecs: q.edns?.ecs }, ctx);
      const wire = encodeAnswer(q, answer, replyLimit(q, false));
      const reply = Packet.parse(wire);
      expect(reply.errors).toEqual([]);
      expect(reply.header.id).toBe(q.id);
      expect(reply.header.qr).toBe(1);
      expect(reply.questions[0].name).toBe(theirs.questions[0].name);
      expect(reply.header.rcode & 15).toBe(answer.rcode & 15);
      expect(!!reply.header.aa).toBe(answer.aa);
      if (!reply.header.tc) {
        expect(reply.answers).toHaveLength(answer.answer.length);
        reply.answers.forEach((rr: any, k: number) => {
          expect(rr.name.toLowerCase()).toBe(answer.answer[k].name === q.qname ? q.qname : answer.answer[k].name);
          expect(rr.type).toBe(answer.answer[k].type);
          expect(rr.ttl).toBe(answer.answer[k].ttl);
        });
        expect(reply.authorities).toHaveLength(answer.authority.length);
      } else {
        expect(wire.length).toBeLessThanOrEqual(replyLimit(q, false));
        expect(reply.answers).toHaveLength(0);
      }
      expect(reply.additionals.some((r: any) => r.type === 41)).toBe(withEdns);
    }
  });
});
