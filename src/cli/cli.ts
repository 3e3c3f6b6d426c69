// The CLI's command table and its one error edge: every failure is one stderr line and an exit status.
import { loadConfig, type Config } from '../config.js';
import { LbdnsError, type ErrorCode } from '../errors.js';
import { openStore } from '../store/store.js';
import { parseCommand, withStore, type CliContext, type Command } from './command.js';
import { explainCommand } from './explain-command.js';
import { geoCommand } from './geo-command.js';
import { memberCommand } from './member-command.js';
import { poolCommand } from './pool-command.js';
import { recordCommand } from './record-command.js';
import { statusCommand } from './status-command.js';
import { zoneCommand } from './zone-command.js';
import { z } from 'zod';

const serve: Command = {
  usage: ['serve'],
  summary: 'run the DNS server (configured by LBDNS_* variables and DATABASE_URL)',
  async run(args, ctx) {
    parseCommand(args, { command: 'serve', options: {}, schema: z.object({}), positionals: [0, 0], names: 'no arguments' });
    // Imported here so that zone and record commands do not load the server.
    const { serve: run } = await import('../main.js');
    await run(ctx.config());
  },
};

const migrate: Command = {
  usage: ['migrate'],
  summary: 'apply pending schema migrations',
  async run(args, ctx) {
    parseCommand(args, { command: 'migrate', options: {}, schema: z.object({}), positionals: [0, 0], names: 'no arguments' });
    const applied = await withStore(ctx, (s) => s.migrate(), { migrate: false });
    ctx.out(applied.length === 0 ? 'schema is up to date' : `applied ${applied.join(', ')}`);
  },
};

const help: Command = {
  usage: ['help'],
  summary: 'show this help',
  async run(_args, ctx) {
    ctx.out(helpText());
  },
};

/**
 * Every command by name. Later commands (pool, member, status, explain) are one entry each here,
 * usually a group() of subcommands in their own file.
 */
export const COMMANDS: Readonly<Record<string, Command>> = {
  serve,
  migrate,
  zone: zoneCommand,
  record: recordCommand,
  pool: poolCommand,
  member: memberCommand,
  geo: geoCommand,
  status: statusCommand,
  explain: explainCommand,
  help,
};

export function helpText(): string {
  const lines = Object.values(COMMANDS).flatMap((c) => c.usage.map((u) => `  lbdns ${u}`));
  return [
    'usage:',
    ...lines,
    '',
    'Names may be given with or without a trailing dot, in any case. Without DATABASE_URL the',
    'embedded store in LBDNS_DATA_DIR is used (through the running server when there is one).',
    'Exit status: 0 done, 1 failed (not found, conflict, store unavailable), 2 invalid input or usage.',
  ].join('\n');
}

// Input the operator can fix by retyping the command: status 2, as for usage errors.
const USAGE_CODES: readonly ErrorCode[] = ['E_INPUT', 'E_CONFIG'];

export interface CliIo {
  readonly env: NodeJS.ProcessEnv;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

/** Runs one command line; returns the exit status. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === '--help' || name === '-h') {
    (name === undefined ? io.stderr : io.stdout)(helpText());
    return name === undefined ? 2 : 0;
  }
  let config: Config | undefined;
  const ctx: CliContext = {
    config: () => (config ??= loadConfig(io.env)),
    openStore: (opts) => openStore(ctx.config().store, { role: 'client', migrate: opts?.migrate }),
    out: io.stdout,
  };
  try {
    const command = COMMANDS[name];
    if (command === undefined) throw new LbdnsError('E_INPUT', `unknown command "${name}" (try: lbdns help)`);
    const flags = args.includes('--') ? args.slice(0, args.indexOf('--')) : args;
    if (flags.includes('--help') || flags.includes('-h')) {
      let shown = command;
      for (const word of flags) shown = shown.subcommands?.[word] ?? shown;
      io.stdout(shown.usage.map((u) => `usage: lbdns ${u}`).join('\n'));
      return 0;
    }
    await command.run(args, ctx);
    return 0;
  } catch (err) {
    if (err instanceof LbdnsError) {
      io.stderr(`lbdns: ${err.message.split('\n', 1)[0]}`);
      return USAGE_CODES.includes(err.code) ? 2 : 1;
    }
    io.stderr(`lbdns: unexpected error: ${(err as Error)?.message?.split('\n', 1)[0] ?? String(err)}`);
    return 1;
  }
}
