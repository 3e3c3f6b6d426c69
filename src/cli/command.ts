// What a CLI command is, how command groups dispatch, and argument parsing shared by every command.
import { parseArgs } from 'node:util';
import { z } from 'zod';
import type { Config } from '../config.js';
import { LbdnsError } from '../errors.js';
import type { OpenStoreOptions, Store } from '../store/store.js';

export interface CliContext {
  /** Validated configuration; loaded only when a command asks for it (help works with a bad env). */
  config(): Config;
  /** Opens the store as a client; the caller closes it (withStore does). */
  openStore(opts?: Pick<OpenStoreOptions, 'migrate'>): Promise<Store>;
  /** Writes one line (or a block) to stdout. */
  out(text: string): void;
}

export interface Command {
  /** One line per form, without the leading "lbdns ". */
  readonly usage: readonly string[];
  readonly summary: string;
  /** Set on groups: `--help` after a subcommand shows that subcommand's usage. */
  readonly subcommands?: Readonly<Record<string, Command>>;
  run(args: readonly string[], ctx: CliContext): Promise<void>;
}

/** A usage error: exit status 2, like every other E_INPUT. */
export function usageError(message: string): LbdnsError {
  return new LbdnsError('E_INPUT', message);
}

/** A command whose first argument picks a subcommand (`zone add`, `record rm`, ...). */
export function group(name: string, summary: string, subcommands: Readonly<Record<string, Command>>): Command {
  return {
    summary,
    subcommands,
    usage: Object.values(subcommands).flatMap((c) => c.usage),
    async run(args, ctx) {
      const [sub, ...rest] = args;
      const cmd = sub === undefined ? undefined : subcommands[sub];
      if (cmd === undefined) {
        const known = Object.keys(subcommands).join(', ');
        throw usageError(sub === undefined ? `${name}: expected a subcommand (${known})` : `${name}: unknown subcommand "${sub}" (${known})`);
      }
      await cmd.run(rest, ctx);
    },
  };
}

type OptionSpec = Readonly<Record<string, { readonly type: 'string' | 'boolean'; readonly multiple?: boolean }>>;

/**
 * `--lat -33.9` as `--lat=-33.9`: parseArgs refuses a value that starts with "-" as ambiguous, and a
 * negative number after an option that takes a value can only be that value.
 */
function joinNegativeValues(args: readonly string[], options: OptionSpec): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--') return [...out, ...args.slice(i)];
    const next = args[i + 1];
    if (a.startsWith('--') && options[a.slice(2)]?.type === 'string' && next !== undefined && /^-[0-9.]/.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else {
      out.push(a);
    }
  }
  return out;
}

/**
 * Parses `args` with node:util parseArgs (strict), checks the number of positionals, then validates
 * the options with `schema`. Every problem becomes one usage line naming the command.
 */
export function parseCommand<S extends z.ZodType>(
  args: readonly string[],
  spec: { readonly command: string; readonly options: OptionSpec; readonly schema: S; readonly positionals: readonly [number, number]; readonly names: string },
): { readonly values: z.infer<S>; readonly positionals: string[] } {
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({ args: joinNegativeValues(args, spec.options), options: { ...spec.options }, allowPositionals: true, strict: true }) as typeof parsed;
  } catch (err) {
    // Node's messages run on with advice about "--"; the first sentence is the problem.
    throw usageError(`${spec.command}: ${(err as Error).message.split(/\.\s/, 1)[0].replace(/\.$/, '')}`);
  }
  const [min, max] = spec.positionals;
  const n = parsed.positionals.length;
  if (n < min || n > max) {
    throw usageError(`${spec.command}: expected ${spec.names}, got ${n === 0 ? 'nothing' : parsed.positionals.map((p) => JSON.stringify(p)).join(' ')}`);
  }
  const result = spec.schema.safeParse(parsed.values);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw usageError(`${spec.command}: --${issue.path.join('.')} ${issue.message}`);
  }
  return { values: result.data, positionals: parsed.positionals };
}

/** An optional whole-number option in min..max, given as text. */
export const intOption = (min: number, max: number) =>
  z
    .string()
    .regex(/^[0-9]+$/, `must be a whole number from ${min} to ${max}`)
    .transform(Number)
    .refine((n) => n >= min && n <= max, `must be a whole number from ${min} to ${max}`)
    .optional();

/**
 * An optional number option, given as text; the store checks its range and says so with the value
 * ("weight -1 must be a whole number from 0 to 1000000").
 */
export const numberOption = () =>
  z
    .string()
    .regex(/^-?([0-9]+(\.[0-9]*)?|\.[0-9]+)$/, 'must be a number')
    .transform(Number)
    .optional();

/** Opens the store, runs `f`, and always closes it. */
export async function withStore<T>(ctx: CliContext, f: (store: Store) => Promise<T>, opts?: Pick<OpenStoreOptions, 'migrate'>): Promise<T> {
  const store = await ctx.openStore(opts);
  try {
    return await f(store);
  } finally {
    await store.close();
  }
}
