// `lbdns serve`, `lbdns probe-agent` and `lbdns migrate`: the server, a vantage point without DNS, and the schema.
import { resolve } from 'node:path';
import { z } from 'zod';
import { LbdnsError } from '../errors.js';
import { parseCommand, withStore, type Command } from './command.js';
import { USAGE } from './usage.js';

export const serveCommand: Command = {
  ...USAGE.serve,
  async run(args, ctx) {
    const { values } = parseCommand(args, {
      command: 'serve',
      options: { seed: { type: 'string' } },
      schema: z.object({ seed: z.string().min(1, 'needs a directory of *.zone files').optional() }).strict(),
      positionals: [0, 0],
      names: 'no arguments',
    });
    const config = ctx.config();
    // Imported here so that zone and record commands do not load the server.
    const { serve } = await import('../main.js');
    await serve(values.seed === undefined ? config : Object.freeze({ ...config, seedDir: resolve(values.seed) }));
  },
};

export const probeAgentCommand: Command = {
  ...USAGE['probe-agent'],
  async run(args, ctx) {
    const { values } = parseCommand(args, {
      command: 'probe-agent',
      options: { name: { type: 'string' }, http: { type: 'string' } },
      schema: z
        .object({
          name: z.string({ error: 'is required: the name this vantage point votes under (lbdns status shows it)' }).regex(/^[\x21-\x7e]{1,255}$/, '--name must be 1 to 255 printable characters without spaces'),
          http: z.string().min(1, '--http needs ADDR:PORT or none').optional(),
        })
        .strict(),
      positionals: [0, 0],
      names: 'no arguments',
    });
    const config = ctx.config();
    const { parseListenAddress } = await import('../config.js');
    let http;
    try {
      http = values.http === 'none' ? undefined : values.http === undefined ? DEFAULT_AGENT_HTTP : parseListenAddress(values.http);
    } catch (err) {
      throw new LbdnsError('E_INPUT', `--http ${(err as Error).message}`);
    }
    const { runProbeAgent } = await import('../agent.js');
    const { createLogger } = await import('../obs/log.js');
    const log = createLogger(config.log.level).child({ vantage: values.name });
    await runProbeAgent(config, { name: values.name, http }, log);
  },
};

/** Beside a serving node's 9153 on the same machine. */
const DEFAULT_AGENT_HTTP = { host: '127.0.0.1', port: 9154, family: 4 } as const;

export const migrateCommand: Command = {
  ...USAGE.migrate,
  async run(args, ctx) {
    parseCommand(args, { command: 'migrate', options: {}, schema: z.object({}), positionals: [0, 0], names: 'no arguments' });
    const applied = await withStore(ctx, (s) => s.migrate(), { migrate: false });
    ctx.out(applied.length === 0 ? 'schema is up to date' : `applied ${applied.join(', ')}`);
  },
};
