// Fuzzing the packet path with a fixed seed: the core directly (many packets) and the real server over UDP and TCP.
import dgram from 'node:dgram';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnswerContext } from '../../src/core/answer.js';
import { respond } from '../../src/core/respond.js';
import { buildSnapshot } from '../../src/snapshot/build.js';
import { parseZoneFile } from '../../src/zonefile/parse.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { dig } from '../helpers/dig.js';
import { ROOT, startInProcess, type TestServer } from '../helpers/server.js';
import { replyProblem } from './check.js';
import { hostilePacket, prng } from './mutate.js';

const SEED = 20261122;

function sampleSnapshot() {
  const parsed = parseZoneFile(readFileSync(`${ROOT}/zones/example.test.zone`, 'utf8'), { file: 'example.test.zone' });
  const zone = { id: 1, name: parsed.origin, ...parsed.soa };
  return buildSnapshot({ version: 1, zones: [zone], records: parsed.records.map((r, i) => ({ id: i + 1, zoneId: 1, name: r.name, type: r.type, ttl: r.ttl, content: r.content })) }).snapshot;
}

describe('core fuzz', () => {
  it('answers 100,000 hostile packets with well-formed replies or silence', () => {
    const snapshot = sampleSnapshot();
    const ctx: AnswerContext = { nodeName: 'fuzz', choose: (pool) => ({ members: pool.members, scope: 0, allDown: false }) };
    const rand = prng(SEED);
    const problems: string[] = [];
    let replies = 0;
    for (let i = 0; i < 100_000; i++) {
      const { kind, packet } = hostilePacket(rand);
      for (const tcp of [false, true]) {
        const out = respond(snapshot, packet, '192.0.2.1', tcp, ctx);
        if (!out.reply) continue;
        replies++;
        const problem = replyProblem(packet, out.reply);
        if (problem && problems.length < 10) problems.push(`${kind} #${i}: ${problem} (${packet.toString('hex')})`);
        if (!tcp && out.reply.length > 1232) problems.push(`${kind} #${i}: UDP reply of ${out.reply.length} octets`);
      }
    }
    expect(problems).toEqual([]);
    expect(replies).toBeGreaterThan(50_000);
  });
});

describe('server fuzz', () => {
  let db: TestDatabase;
  let server: TestServer;
  beforeAll(async () => {
    db = await createTestDatabase();
    server = await startInProcess({ DATABASE_URL: db.url, LBDNS_DATA_DIR: db.dataDir, LBDNS_RRL_RATE: '0' });
  });
  afterAll(async () => {
    await server?.stop();
    await db?.drop();
  });

  it('survives 20,000 hostile UDP packets and still answers correctly', async () => {
    const rand = prng(SEED + 1);
    const sock = dgram.createSocket('udp4');
    const sent = new Map<number, Buffer>();
    const problems: string[] = [];
    let replies = 0;
    sock.on('message', (m) => {
      replies++;
      const id = m.length >= 2 ? m.readUInt16BE(0) : -1;
      const q = sent.get(id);
      if (!q) return;
      const problem = replyProblem(q, m);
      if (problem && problems.length < 10) problems.push(`${problem} (${q.toString('hex')})`);
    });
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
    const t0 = Date.now();
    for (let i = 0; i < 20_000 && Date.now() - t0 < 30_000; i++) {
      const { packet } = hostilePacket(rand);
      // A unique id per packet makes each reply traceable to its query.
      if (packet.length >= 2) {
        packet.writeUInt16BE(i, 0);
        sent.set(i, packet);
      }
      sock.send(packet, server.dnsPort, '127.0.0.1');
      if (i % 20 === 19) await new Promise((r) => setTimeout(r, 1));
    }
    await new Promise((r) => setTimeout(r, 500));
    sock.close();
    expect(problems).toEqual([]);
    expect(replies).toBeGreaterThan(8_000);
    const after = await dig('127.0.0.1', server.dnsPort, ['www.example.test']);
    expect(after.status).toBe('NOERROR');
    expect(after.answer.map((a) => a.data).sort()).toEqual(['192.0.2.10', '192.0.2.11']);
  });

  it('survives hostile TCP streams and keeps serving other connections', async () => {
    const rand = prng(SEED + 2);
    for (let c = 0; c < 50; c++) {
      const sock = net.connect(server.dnsPort, '127.0.0.1');
      sock.on('error', () => undefined);
      await new Promise<void>((r) => sock.once('connect', () => r()));
      const chunks: Buffer[] = [];
      for (let i = 0; i < 20; i++) {
        const { packet } = hostilePacket(rand);
        const len = Buffer.alloc(2);
        len.writeUInt16BE(rand() < 0.9 ? packet.length : Math.floor(rand() * 65536));
        chunks.push(len, packet);
      }
      sock.end(Buffer.concat(chunks));
      await new Promise((r) => setTimeout(r, 5));
      sock.destroy();
    }
    const after = await dig('127.0.0.1', server.dnsPort, ['www.example.test', '+tcp']);
    expect(after.status).toBe('NOERROR');
  });
});
