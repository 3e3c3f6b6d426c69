// `lbdns status --json` and the API's /status: every member's health as each node reported it, the state the votes
// decide, its override and its maintenance windows, read from the store alone.
import { overrideInForce } from '../core/override.js';
import { nextWindow, windowAt } from '../pools/maintenance.js';
import type { MaintenanceWindowRow, NodeHealth, PoolMemberStatus, Store } from '../store/store.js';
import { agreedJson, agreedStatus, vantageView, type AgreedStatus, type VantageView } from './agreed-status.js';

/** "2030-01-01T00:00:08Z": ISO 8601 to the second, UTC. */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** One word for a member across the nodes: unknown until some node reports it. */
function overall(nodes: readonly NodeHealth[]): 'up' | 'down' | 'mixed' | 'unknown' {
  if (nodes.length === 0) return 'unknown';
  if (nodes.every((n) => n.up)) return 'up';
  return nodes.some((n) => n.up) ? 'mixed' : 'down';
}

/**
 * A row older than twice the heartbeat its node promised (the first heartbeat after a row may take up to
 * two, src/health/reporter.ts), plus 10 s for the reporter's tick and the write, is stale: the node
 * stopped, lost the database, or no longer probes the member. Rows without a promise never are.
 */
export function isStale(n: NodeHealth): boolean {
  return n.heartbeatSeconds !== null && n.heartbeatAge > 2 * n.heartbeatSeconds + 10;
}

/** A member's windows: definition, open now, and the next window. */
export function windowsJson(windows: readonly MaintenanceWindowRow[], memberId: number, now: number): unknown[] {
  return windows
    .filter((w) => w.memberId === memberId)
    .map((w) => {
      try {
        const state = windowAt(w, now);
        const next = nextWindow(w, now);
        return { id: w.id, cron: w.cron, tz: w.tz, durationSeconds: w.durationMs / 1000, reason: w.reason, by: w.by, open: state.open, openUntil: state.open ? isoTime(state.closesAt) : null, nextOpens: isoTime(next.opensAt), nextCloses: isoTime(next.closesAt) };
      } catch (err) {
        return { id: w.id, cron: w.cron, tz: w.tz, durationSeconds: w.durationMs / 1000, reason: w.reason, by: w.by, error: (err as Error).message };
      }
    });
}

function memberJson(s: PoolMemberStatus, now: number): Record<string, unknown> {
  const m = s.member;
  return {
    pool: s.pool,
    memberId: m.id,
    address: m.address,
    enabled: m.enabled,
    weight: m.weight,
    priority: m.priority,
    state: overall(s.nodes),
    override: m.override ? { ...m.override, at: isoTime(m.override.at), until: m.override.until === null ? null : isoTime(m.override.until), inForce: overrideInForce(m.override, now) } : null,
    nodes: s.nodes.map((n) => ({
      node: n.node,
      state: n.up ? 'up' : 'down',
      since: isoTime(n.since),
      lastCheck: n.lastCheck === null ? null : isoTime(n.lastCheck),
      latencyMs: n.latencyMs,
      lastError: n.lastError,
      transitions: n.transitions,
      heartbeatAt: isoTime(n.heartbeatAt),
      heartbeatAgeSeconds: Math.round(n.heartbeatAge),
      heartbeatIntervalSeconds: n.heartbeatSeconds,
      stale: isStale(n),
    })),
  };
}

export interface StatusReport {
  readonly status: readonly PoolMemberStatus[];
  /** The maintenance windows of these members. */
  readonly windows: readonly MaintenanceWindowRow[];
  readonly view: VantageView;
  /** By member, as `status`. */
  readonly agreed: readonly AgreedStatus[];
}

/** Every member of every pool (or of one: E_NOT_FOUND when it does not exist) with what decides its state. */
export async function readStatus(store: Pick<Store, 'healthStatus' | 'listMaintenance' | 'listVantages'>, pool?: string): Promise<StatusReport> {
  const status = await store.healthStatus({ pool });
  const [windows, vantages] = [await store.listMaintenance(), await store.listVantages()];
  const view = vantageView(vantages);
  return { status, windows: windows.filter((w) => status.some((s) => s.member.id === w.memberId)), view, agreed: status.map((s) => agreedStatus(s, view)) };
}

/** The report as `lbdns status --json` prints it: one object per member. */
export function statusJson(r: StatusReport, now: number): Record<string, unknown>[] {
  return r.status.map((s, i) => ({ ...memberJson(s, now), agreed: agreedJson(r.agreed[i]), maintenance: windowsJson(r.windows, s.member.id, now) }));
}
