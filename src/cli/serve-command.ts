// `lbdns serve` and `lbdns migrate`: the server itself, and the schema on its own.
import { resolve } from 'node:path';
import { z } from 'zod';
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

export const migrateCommand: Command = {
  ...USAGE.migrate,
  async run(args, ctx) {
    parseCommand(args, { command: 'migrate', options: {}, schema: z.object({}), positionals: [0, 0], names: 'no arguments' });
    const applied = await withStore(ctx, (s) => s.migrate(), { migrate: false });
    ctx.out(applied.length === 0 ? 'schema is up to date' : `applied ${applied.join(', ')}`);
  },
};
