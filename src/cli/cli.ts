// The CLI's command table and its one error edge: every failure is one stderr line and an exit status.
//
// Commands are loaded when named: `lbdns --help` reads only ./usage.js, and `lbdns zone list` loads the
// zone commands and the store, not the server (each command stays within the CLI's 300 ms budget).
import { userInfo } from 'node:os';
import type { Config } from '../config.js';
import { LbdnsError, type ErrorCode } from '../errors.js';
import type { CliContext, Command } from './command.js';
import { GROUP_SUMMARY, USAGE } from './usage.js';

/** Every command by name, loaded on first use. A new command is one line here and its usage in ./usage.ts. */
const COMMANDS: Readonly<Record<string, () => Promise<Command>>> = {
  serve: async () => (await import('./serve-command.js')).serveCommand,
  migrate: async () => (await import('./serve-command.js')).migrateCommand,
  'probe-agent': async () => (await import('./serve-command.js')).probeAgentCommand,
  zone: async () => (await import('./zone-command.js')).zoneCommand,
  record: async () => (await import('./record-command.js')).recordCommand,
  pool: async () => (await import('./pool-command.js')).poolCommand,
  member: async () => (await import('./member-command.js')).memberCommand,
  geo: async () => (await import('./geo-command.js')).geoCommand,
  tsig: async () => (await import('./tsig-command.js')).tsigCommand,
  maintenance: async () => (await import('./maintenance-command.js')).maintenanceCommand,
  vantage: async () => (await import('./vantage-command.js')).vantageCommand,
  dnssec: async () => (await import('./dnssec-command.js')).dnssecCommand,
  history: async () => (await import('./history-command.js')).historyCommand,
  revert: async () => (await import('./history-command.js')).revertCommand,
  token: async () => (await import('./token-command.js')).tokenCommand,
  status: async () => (await import('./status-command.js')).statusCommand,
  explain: async () => (await import('./explain-command.js')).explainCommand,
};

export const COMMAND_NAMES: readonly string[] = [...Object.keys(COMMANDS), 'help'];

export function helpText(): string {
  const lines = Object.values(USAGE).flatMap((c) => c.usage.map((u) => `  lbdns ${u}`));
  return [
    'usage:',
    ...lines,
    '',
    'Names may be given with or without a trailing dot, in any case. Without DATABASE_URL the',
    'embedded store in LBDNS_DATA_DIR is used (through the running server when there is one).',
    'Exit status: 0 done, 1 failed (not found, conflict, store unavailable), 2 invalid input or usage.',
  ].join('\n');
}

/** Usage lines for `lbdns WORDS --help`: the most specific command the words name. */
function usageFor(words: readonly string[]): string {
  const [name, sub] = words;
  const exact = (USAGE as Readonly<Record<string, { readonly usage: readonly string[] }>>)[sub === undefined ? name : `${name} ${sub}`] ??
    (USAGE as Readonly<Record<string, { readonly usage: readonly string[] }>>)[name];
  const lines = exact?.usage ?? Object.entries(USAGE).filter(([k]) => k.startsWith(`${name} `)).flatMap(([, u]) => u.usage);
  const summary = exact === undefined ? GROUP_SUMMARY[name] : undefined;
  return [...lines.map((u) => `usage: lbdns ${u}`), ...(summary ? [`(${summary})`] : [])].join('\n');
}

// Input the operator can fix by retyping the command: status 2, as for usage errors.
const USAGE_CODES: readonly ErrorCode[] = ['E_INPUT', 'E_CONFIG'];

/** Who the audit log names for every write of this CLI: the operating-system user (else USER or LOGNAME). */
function cliActor(env: NodeJS.ProcessEnv): string | undefined {
  try {
    return userInfo().username;
  } catch {
    return env.USER ?? env.LOGNAME;
  }
}

export interface CliIo {
  readonly env: NodeJS.ProcessEnv;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

/** Runs one command line; returns the exit status. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? io.stderr : io.stdout)(helpText());
    return name === undefined ? 2 : 0;
  }
  try {
    const load = COMMANDS[name];
    if (load === undefined) throw new LbdnsError('E_INPUT', `unknown command "${name}" (try: lbdns help)`);
    const flags = args.includes('--') ? args.slice(0, args.indexOf('--')) : args;
    if (flags.includes('--help') || flags.includes('-h')) {
      io.stdout(usageFor([name, ...flags.filter((f) => !f.startsWith('-'))]));
      return 0;
    }
    const [{ loadConfig }, { openStore }, command] = await Promise.all([import('../config.js'), import('../store/store.js'), load()]);
    let config: Config | undefined;
    const ctx: CliContext = {
      config: () => (config ??= loadConfig(io.env)),
      openStore: (opts) =>
        openStore(ctx.config().store, { role: 'client', migrate: opts?.migrate, session: { actor: cliActor(io.env), applicationName: 'lbdns-cli' } }),
      out: io.stdout,
    };
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
