// `lbdns history [ZONE|POOL]`, `lbdns history --health [POOL]` and `lbdns revert TXID`: the audit log read back and undone.
import { z } from 'zod';
import type { AuditChange, AuditHistory, AuditTransaction, TransitionRecord } from '../store/store.js';
import { intOption, parseCommand, usageError, withStore, type Command } from './command.js';
import { parseDuration } from './override-options.js';
import { isoTime, table } from './table.js';
import { USAGE } from './usage.js';

/** How an operator calls a row of each audited table. */
const NOUN: Readonly<Record<string, string>> = {
  zones: 'zone',
  records: 'record',
  pools: 'pool',
  pool_members: 'member',
  geo_networks: 'geo network',
  maintenance_windows: 'maintenance window',
  tsig_keys: 'tsig key',
  dnssec_keys: 'dnssec key',
};

/** A value in a change line: numbers and booleans as they are, anything else as JSON, long ones cut. */
function valueText(v: unknown): string {
  const text = v === undefined ? 'absent' : typeof v === 'number' || typeof v === 'boolean' || v === null ? String(v) : JSON.stringify(v);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** The fields an update changed, old and new, in the row's column order. */
export function changedFields(c: Pick<AuditChange, 'old' | 'new'>): Record<string, { readonly old: unknown; readonly new: unknown }> {
  const out: Record<string, { old: unknown; new: unknown }> = {};
  if (c.old === null || c.new === null) return out;
  for (const k of new Set([...Object.keys(c.old), ...Object.keys(c.new)])) {
    if (JSON.stringify(c.old[k]) !== JSON.stringify(c.new[k])) out[k] = { old: c.old[k], new: c.new[k] };
  }
  return out;
}

/** "update record www.example.test A 192.0.2.1: ttl 300 → 60". */
export function changeLine(c: AuditChange, pools: ReadonlyMap<string, string>): string {
  const poolId = c.table === 'pool_members' ? String((c.new ?? c.old)?.pool_id ?? '') : '';
  const context = c.context ?? (pools.has(poolId) ? `pool ${pools.get(poolId)}` : null);
  const what = `${c.op} ${NOUN[c.table] ?? c.table} ${c.name}${context ? ` (${context})` : ''}`;
  if (c.op !== 'update') return what;
  const fields = Object.entries(changedFields(c)).map(([k, v]) => `${k} ${valueText(v.old)} → ${valueText(v.new)}`);
  return fields.length ? `${what}: ${fields.join(', ')}` : what;
}

function transactionLines(t: AuditTransaction, pools: ReadonlyMap<string, string>): string[] {
  const who = t.application ? `${t.actor} via ${t.application}` : t.actor;
  const more = t.total - t.changes.length;
  return [
    `${isoTime(t.at)}  txid ${t.txid}  ${who}`,
    ...t.changes.map((c) => `  ${changeLine(c, pools)}`),
    ...(more > 0 ? [`  ... and ${more} more change${more === 1 ? '' : 's'}`] : []),
  ];
}

function historyText(h: AuditHistory): string {
  if (h.transactions.length === 0) return h.scope ? `no changes to ${h.scope.kind} ${h.scope.name} in the audit log` : 'no changes in the audit log';
  // A member's pool when the pool went in the same transaction (no pool row left to name it).
  const pools = new Map<string, string>();
  for (const t of h.transactions) for (const c of t.changes) if (c.table === 'pools') pools.set(c.key, c.name);
  return h.transactions.map((t) => transactionLines(t, pools).join('\n')).join('\n\n');
}

function historyJson(h: AuditHistory): unknown {
  return {
    ...(h.scope ? { scope: h.scope } : {}),
    transactions: h.transactions.map((t) => ({
      txid: t.txid,
      at: isoTime(t.at),
      actor: t.actor,
      application: t.application,
      total: t.total,
      changes: t.changes.map((c) => ({ ...c, ...(c.op === 'update' ? { changed: changedFields(c) } : {}) })),
    })),
  };
}

const STATE_CHANGE = (t: TransitionRecord): string => `${t.from} → ${t.to}`;

/** Why the state changed: the counted votes under their rule, or the probe's reason. */
export function transitionWhy(t: TransitionRecord): string {
  if (t.kind === 'probe') return `probe: ${t.reason ?? 'no reason given'}`;
  const votes = Object.entries(t.votes ?? {}).map(([v, s]) => `${v} ${s}`).join(', ');
  return `${t.rule ?? 'agreed'}: ${votes || 'no votes counted'}`;
}

function transitionsText(rows: readonly TransitionRecord[], pool: string | undefined): string {
  if (rows.length === 0) return pool ? `no health changes of pool ${pool} recorded` : 'no health changes recorded';
  return table([
    ['TIME', 'NODE', 'KIND', 'POOL', 'MEMBER', 'CHANGE', 'WHY'],
    ...rows.map((t) => [isoTime(t.at), t.node, t.kind, t.pool, t.member, STATE_CHANGE(t), transitionWhy(t)]),
  ]).join('\n');
}

const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/;

/** --since: a duration back from now ("1h", "30m", "2d", "1h30m") or an ISO 8601 time with its zone (or a UTC date). */
export function parseSince(text: string, now: number): number | undefined {
  const ms = parseDuration(text);
  if (ms !== undefined) return now - ms;
  if (!ISO_WITH_ZONE.test(text)) return undefined;
  const t = Date.parse(text.length === 10 ? `${text}T00:00:00Z` : text);
  return Number.isFinite(t) ? t : undefined;
}

export const historyCommand: Command = {
  ...USAGE.history,
  async run(args, ctx) {
    const { values, positionals } = parseCommand(args, {
      command: 'history',
      options: { since: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' }, health: { type: 'boolean' } },
      schema: z.object({ since: z.string().optional(), limit: intOption(1, 10_000), json: z.boolean().optional(), health: z.boolean().optional() }),
      positionals: [0, 1],
      names: positionalNames(args),
    });
    let since: number | undefined;
    if (values.since !== undefined) {
      since = parseSince(values.since, Date.now());
      if (since === undefined) throw usageError(`history: --since "${values.since}" must be a duration such as 30m, 1h or 2d, or an ISO 8601 time with its zone such as 2026-12-06T04:00Z`);
    }
    const [target] = positionals;
    if (values.health) {
      const rows = await withStore(ctx, (s) => s.transitionHistory({ pool: target, since, limit: values.limit }));
      ctx.out(values.json ? JSON.stringify(rows.map((t) => ({ ...t, at: isoTime(t.at) })), null, 2) : transitionsText(rows, target));
      return;
    }
    const h = await withStore(ctx, (s) => s.history({ target, since, limit: values.limit }));
    ctx.out(values.json ? JSON.stringify(historyJson(h), null, 2) : historyText(h));
  },
};

/** What the positional is, for the usage error: a pool with --health, else a zone or a pool. */
function positionalNames(args: readonly string[]): string {
  return args.includes('--health') ? 'at most one POOL' : 'at most one ZONE or POOL';
}

const TXID = /^[1-9][0-9]{0,15}$/;

export const revertCommand: Command = {
  ...USAGE.revert,
  async run(args, ctx) {
    const { positionals } = parseCommand(args, { command: 'revert', options: {}, schema: z.object({}), positionals: [1, 1], names: 'TXID' });
    const [text] = positionals;
    if (!TXID.test(text) || !Number.isSafeInteger(Number(text))) {
      throw usageError(`revert: TXID "${text}" must be a transaction id as lbdns history shows it (a whole number)`);
    }
    const r = await withStore(ctx, (s) => s.revert(Number(text)));
    const parts = [`${r.restored} restored`, `${r.removed} removed`, `${r.reinserted} put back`];
    ctx.out(`reverted transaction ${text} in transaction ${r.txid}: ${parts.join(', ')}`);
  },
};
