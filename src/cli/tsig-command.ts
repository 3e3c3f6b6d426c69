// `lbdns tsig add|list|rm`: TSIG keys (RFC 8945) that secondaries sign zone transfers with; a new key is printed once, in BIND's format.
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { TSIG_ALGORITHMS, type TsigAlgorithm } from '../store/transfer-queries.js';
import { bindKeyText, hashSize } from '../xfr/tsig.js';
import { group, parseCommand, withStore, type Command } from './command.js';
import { GROUP_SUMMARY, USAGE } from './usage.js';

const add: Command = {
  ...USAGE['tsig add'],
  async run(args, ctx) {
    const { values, positionals } = parseCommand(args, {
      command: 'tsig add',
      options: { algorithm: { type: 'string' } },
      schema: z.object({ algorithm: z.enum(TSIG_ALGORITHMS).optional() }),
      positionals: [1, 1],
      names: 'NAME',
    });
    const algorithm: TsigAlgorithm = values.algorithm ?? 'hmac-sha256';
    // RFC 8945 §6: a key as long as the hash output.
    const secret = randomBytes(hashSize(algorithm)).toString('base64');
    const name = positionals[0].toLowerCase().replace(/\.$/, '');
    await withStore(ctx, (s) => s.addTsigKey({ name, algorithm, secret }));
    ctx.out(bindKeyText({ name, algorithm, secret }));
  },
};

const list: Command = {
  ...USAGE['tsig list'],
  async run(args, ctx) {
    const { values } = parseCommand(args, {
      command: 'tsig list',
      options: { json: { type: 'boolean' } },
      schema: z.object({ json: z.boolean().optional() }),
      positionals: [0, 0],
      names: 'no arguments',
    });
    const [keys, zones] = await withStore(ctx, (s) => Promise.all([s.tsigKeys(), s.transferSettings()]));
    // Secrets are shown only once, by `tsig add`: a listing ends up in terminals and tickets.
    const rows = keys.map((k) => ({ name: k.name, algorithm: k.algorithm, zones: zones.filter((z) => z.keys.includes(k.name)).map((z) => z.zone) }));
    if (values.json) return ctx.out(JSON.stringify(rows, null, 2));
    if (rows.length === 0) return ctx.out('no tsig keys');
    const width = Math.max(4, ...rows.map((r) => r.name.length)) + 2;
    ctx.out(`${'NAME'.padEnd(width)}${'ALGORITHM'.padEnd(13)}ZONES`);
    for (const r of rows) ctx.out(`${r.name.padEnd(width)}${r.algorithm.padEnd(13)}${r.zones.join(',') || '-'}`);
  },
};

const rm: Command = {
  ...USAGE['tsig rm'],
  async run(args, ctx) {
    const { positionals } = parseCommand(args, { command: 'tsig rm', options: {}, schema: z.object({}), positionals: [1, 1], names: 'NAME' });
    await withStore(ctx, (s) => s.removeTsigKey(positionals[0]));
    ctx.out(`removed tsig key ${positionals[0].toLowerCase().replace(/\.$/, '')}`);
  },
};

export const tsigCommand = group('tsig', GROUP_SUMMARY.tsig, { add, list, rm });
