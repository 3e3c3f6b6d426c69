// Seeded generator of hostile DNS packets: random bytes and targeted mutations of valid queries.
import { buildQuery, nameBytes } from '../helpers/wire.js';

/** xorshift32: small, fast, and the same sequence for the same seed everywhere. */
export function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

const NAMES = ['www.example.test', 'example.test', 'lb.example.test', 'anything.wild.example.test', 'host.sub.example.test', 'big.example.test', 'nowhere.invalid', 'id.server'];
const TYPES = [1, 2, 5, 6, 15, 16, 28, 33, 43, 255, 252, 41, 257, 65535, 0];

export type Mutation =
  | 'random'
  | 'bitflip'
  | 'truncate'
  | 'counts'
  | 'pointer-loop'
  | 'pointer-past-end'
  | 'long-label'
  | 'long-name'
  | 'edns-options'
  | 'ecs-length'
  | 'opcode'
  | 'extend';

export const MUTATIONS: readonly Mutation[] = ['random', 'bitflip', 'truncate', 'counts', 'pointer-loop', 'pointer-past-end', 'long-label', 'long-name', 'edns-options', 'ecs-length', 'opcode', 'extend'];

function valid(rand: () => number): Buffer {
  const pick = <T>(a: readonly T[]) => a[Math.floor(rand() * a.length)];
  const withEdns = rand() < 0.7;
  const withEcs = withEdns && rand() < 0.5;
  return buildQuery({
    id: Math.floor(rand() * 65536),
    name: pick(NAMES),
    qtype: pick(TYPES),
    qclass: rand() < 0.9 ? 1 : pick([3, 4, 255, 254]),
    edns: withEdns
      ? { udpSize: pick([0, 512, 1232, 4096, 65535]), version: rand() < 0.9 ? 0 : 1, dnssecOk: rand() < 0.3, ecs: withEcs ? { family: 1, source: 24, address: [198, 51, 100] } : undefined }
      : undefined,
  });
}

/** One hostile packet; `kind` says which mutation made it (for regression notes). */
export function hostilePacket(rand: () => number): { kind: Mutation; packet: Buffer } {
  const kind = MUTATIONS[Math.floor(rand() * MUTATIONS.length)];
  const byte = () => Math.floor(rand() * 256);
  let p = valid(rand);
  switch (kind) {
    case 'random':
      p = Buffer.from(Array.from({ length: Math.floor(rand() * 600) }, byte));
      break;
    case 'bitflip':
      for (let i = 0, n = 1 + Math.floor(rand() * 8); i < n; i++) p[Math.floor(rand() * p.length)] ^= 1 << Math.floor(rand() * 8);
      break;
    case 'truncate':
      p = p.subarray(0, Math.floor(rand() * p.length));
      break;
    case 'counts':
      for (const o of [4, 6, 8, 10]) if (rand() < 0.5) p.writeUInt16BE(Math.floor(rand() * 65536), o);
      break;
    case 'pointer-loop':
      // A question name that points at itself, or two pointers pointing at each other.
      p = Buffer.concat([p.subarray(0, 12), Buffer.from(rand() < 0.5 ? [0xc0, 12, 0, 1, 0, 1] : [0xc0, 14, 0xc0, 12, 0, 1, 0, 1])]);
      break;
    case 'pointer-past-end':
      p = Buffer.concat([p.subarray(0, 12), Buffer.from([3, 0x77, 0x77, 0x77, 0xc0 | byte() >> 2, byte(), 0, 1, 0, 1])]);
      break;
    case 'long-label':
      p = Buffer.concat([p.subarray(0, 12), Buffer.from([64 + Math.floor(rand() * 191), ...Array(70).fill(0x61), 0, 0, 1, 0, 1])]);
      break;
    case 'long-name': {
      const labels = Array.from({ length: 5 + Math.floor(rand() * 5) }, () => [63, ...Array(63).fill(0x62)]).flat();
      p = Buffer.concat([p.subarray(0, 12), Buffer.from([...labels, 0, 0, 1, 0, 1])]);
      break;
    }
    case 'edns-options': {
      const opts = Array.from({ length: 1 + Math.floor(rand() * 4) }, () => {
        const len = Math.floor(rand() * 40);
        const declared = rand() < 0.5 ? len : Math.floor(rand() * 65536);
        return [byte(), byte(), declared >> 8, declared & 255, ...Array.from({ length: len }, byte)];
      }).flat();
      const head = [...p.subarray(0, 12)];
      head[11] = 1;
      const q = [...nameBytes('www.example.test'), 0, 1, 0, 1];
      p = Buffer.from([...head, ...q, 0, 0, 41, 4, 208, 0, 0, 0, 0, opts.length >> 8, opts.length & 255, ...opts]);
      break;
    }
    case 'ecs-length': {
      const family = rand() < 0.5 ? 1 : rand() < 0.9 ? 2 : byte();
      const source = Math.floor(rand() * 140);
      const addr = Array.from({ length: Math.floor(rand() * 20) }, byte);
      const len = 4 + addr.length;
      const head = [...p.subarray(0, 12)];
      head[5] = 1;
      head[7] = 0;
      head[9] = 0;
      head[11] = 1;
      const q = [...nameBytes('lb.example.test'), 0, 1, 0, 1];
      p = Buffer.from([...head, ...q, 0, 0, 41, 4, 208, 0, 0, 0, 0, (len + 4) >> 8, (len + 4) & 255, 0, 8, len >> 8, len & 255, family >> 8, family & 255, source, byte(), ...addr]);
      break;
    }
    case 'opcode':
      p[2] = (p[2] & 0x87) | (Math.floor(rand() * 16) << 3);
      if (rand() < 0.2) p[2] |= 0x80;
      break;
    case 'extend':
      p = Buffer.concat([p, Buffer.from(Array.from({ length: Math.floor(rand() * 300) }, byte))]);
      break;
  }
  return { kind, packet: p };
}
