// `lbdns token add|list|rm`: scoped tokens for the HTTP API; a token is printed once, and only its hash is stored.
import { z } from 'zod';
import { isoTime } from '../health/status-report.js';
import { group, parseCommand, usageError, withStore, type Command } from './command.js';
import { cliActor } from './override-options.js';
import { table } from './table.js';
import { GROUP_SUMMARY, USAGE } from './usage.js';

const add: Command = {
  ...USAGE['token add'],
  async run(args, ctx) {
    const { values, positionals } = parseCommand(args, {
      command: 'token add',
      options: { scope: { type: 'string', multiple: true } },
      schema: z.object({ scope: z.array(z.string()).optional() }),
      positionals: [1, 1],
      names: 'NAME',
    });
    if (values.scope === undefined) throw usageError('token add: give at least one --scope (read, admin, zone:NAME|*:read|write, pool:NAME|*:read|drain|write)');
    const { token, row } = await withStore(ctx, (s) => s.addToken(positionals[0], values.scope!, cliActor()));
    ctx.out(`added token ${row.name} with scopes ${row.scopes.join(' ')}; this is the only time it is shown:`);
    ctx.out(token);
  },
};

const list: Command = {
  ...USAGE['token list'],
  async run(args, ctx) {
    const { values } = parseCommand(args, {
      command: 'token list',
      options: { json: { type: 'boolean' }, revoked: { type: 'boolean' } },
      schema: z.object({ json: z.boolean().optional(), revoked: z.boolean().optional() }),
      positionals: [0, 0],
      names: 'no arguments',
    });
    const tokens = await withStore(ctx, (s) => s.listTokens({ revoked: values.revoked }));
    const time = (ms: number | null): string => (ms === null ? '-' : isoTime(ms));
    if (values.json) {
      return ctx.out(JSON.stringify(tokens.map((t) => ({ name: t.name, scopes: t.scopes, createdAt: isoTime(t.createdAt), createdBy: t.createdBy, lastUsedAt: t.lastUsedAt === null ? null : isoTime(t.lastUsedAt), revokedAt: t.revokedAt === null ? null : isoTime(t.revokedAt) })), null, 2));
    }
    if (tokens.length === 0) return ctx.out('no tokens');
    const rows = tokens.map((t) => [t.name, time(t.createdAt), t.createdBy, time(t.lastUsedAt), ...(values.revoked ? [time(t.revokedAt)] : []), t.scopes.join(' ')]);
    for (const line of table([['NAME', 'CREATED', 'BY', 'LAST USED', ...(values.revoked ? ['REVOKED'] : []), 'SCOPES'], ...rows])) ctx.out(line);
  },
};

const rm: Command = {
  ...USAGE['token rm'],
  async run(args, ctx) {
    const { positionals } = parseCommand(args, { command: 'token rm', options: {}, schema: z.object({}), positionals: [1, 1], names: 'NAME' });
    const t = await withStore(ctx, (s) => s.revokeToken(positionals[0], cliActor()));
    ctx.out(`revoked token ${t.name}: it stops working at once`);
  },
};

export const tokenCommand = group('token', GROUP_SUMMARY.token, { add, list, rm });
