// GET / on the ops port: the status page. Pools, members, this node's and every vantage point's view, overrides,
// recent state changes and edits, as one HTML page that refreshes itself every few seconds.
//
// Rendered here from the same data as /status (and nothing else): no script, no external asset, no framework. The
// refresh is a <meta http-equiv="refresh">, so the page works with JavaScript off; every value is escaped.
import type { Route, RouteResult } from './ops-http.js';

/** One state change answers followed, kept in memory (the newest few) for the page. */
export interface RecentTransition {
  readonly at: number;
  readonly pool: string;
  readonly member: string;
  readonly from: string;
  readonly to: string;
  /** Why: the probe's reason, or the quorum rule and the votes. */
  readonly why: string;
}

/** One edit from the audit log. */
export interface RecentEdit {
  readonly at: number;
  readonly actor: string;
  readonly what: string;
}

export interface StatusPageDeps {
  /** The /status route: its JSON body is what the page shows. */
  readonly status: Route;
  readonly transitions: () => readonly RecentTransition[];
  /** The newest edits, when the audit log can be read; absent or failing: the section says so. */
  readonly edits?: () => Promise<readonly RecentEdit[]>;
  /** Seconds between refreshes. */
  readonly refreshSeconds?: number;
}

const esc = (v: unknown): string =>
  String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

interface StatusMember {
  address: string;
  enabled: boolean;
  weight: number;
  priority: number;
  state: string;
  since: string | null;
  lastCheck: string | null;
  lastError: string | null;
  override: { text: string } | null;
  agreed: { state: string; rule: string; ups: number; downs: number; votes: { vantage: string; up: boolean; ageSeconds: number; counted: boolean; ignored?: string }[] } | null;
}

interface StatusBody {
  node: string;
  role: string | null;
  version: number;
  pools: { name: string; policy: string; ttl: number; count: number; check: string; members: StatusMember[] }[];
}

const CSS = `body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#111}h1{font-size:1.3em}h2{font-size:1.1em;margin-top:1.5em}
table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f3f3f3}.up{background:#e3f6e3}.down{background:#fbe0e0}.unknown,.drained{background:#eee}.muted{color:#666}`;

function stateCell(m: StatusMember): { state: string; detail: string } {
  if (!m.enabled) return { state: 'drained', detail: '' };
  const state = m.agreed ? m.agreed.state : m.state;
  const since = !m.agreed && m.since ? `since ${m.since}` : '';
  return { state, detail: since };
}

function votesCell(m: StatusMember): string {
  if (!m.agreed) return '<span class="muted">own probes</span>';
  const votes = m.agreed.votes
    .map((v) => `${esc(v.vantage)}: ${v.up ? 'up' : 'down'} (${esc(v.ageSeconds)}s${v.counted ? '' : `, ${esc(v.ignored ?? 'not counted')}`})`)
    .join('<br>');
  return `${esc(m.agreed.rule)}: ${m.agreed.ups} up, ${m.agreed.downs} down<br>${votes || '<span class="muted">no votes</span>'}`;
}

export function render(body: StatusBody, transitions: readonly RecentTransition[], edits: readonly RecentEdit[] | string, refreshSeconds: number, now: number): string {
  const rows: string[] = [];
  for (const p of body.pools) {
    for (const m of p.members) {
      const { state, detail } = stateCell(m);
      rows.push(
        `<tr class="${esc(state)}" data-pool="${esc(p.name)}" data-member="${esc(m.address)}" data-state="${esc(state)}">` +
          `<td>${esc(p.name)}</td><td>${esc(m.address)}</td><td class="state"><b>${esc(state)}</b> ${esc(detail)}</td>` +
          `<td>${esc(m.weight)}</td><td>${esc(m.priority)}</td><td>${esc(m.enabled ? m.state : 'not probed (drained)')}</td>` +
          `<td>${votesCell(m)}</td><td>${esc(m.override?.text ?? '')}</td><td>${esc(m.lastError ?? '')}</td></tr>`,
      );
    }
  }
  const pools = body.pools.map((p) => `<li>${esc(p.name)}: ${esc(p.policy)}, ${p.count} per answer, ttl ${p.ttl}, check ${esc(p.check)}</li>`).join('');
  const changes = transitions.length
    ? `<table><tr><th>time</th><th>pool</th><th>member</th><th>change</th><th>why</th></tr>${transitions
        .map((t) => `<tr><td>${iso(t.at)}</td><td>${esc(t.pool)}</td><td>${esc(t.member)}</td><td>${esc(t.from)} → ${esc(t.to)}</td><td>${esc(t.why)}</td></tr>`)
        .join('')}</table>`
    : '<p class="muted">none since this node started</p>';
  const editList =
    typeof edits === 'string'
      ? `<p class="muted">${esc(edits)}</p>`
      : edits.length
        ? `<table><tr><th>time</th><th>who</th><th>what</th></tr>${edits.map((e) => `<tr><td>${iso(e.at)}</td><td>${esc(e.actor)}</td><td>${esc(e.what)}</td></tr>`).join('')}</table>`
        : '<p class="muted">none</p>';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="${refreshSeconds}">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>lbdns ${esc(body.node)}</title><style>${CSS}</style></head>
<body><h1>lbdns on ${esc(body.node)}</h1>
<p>role: ${esc(body.role ?? 'not in a pair')} · snapshot version ${esc(body.version)} · ${iso(now)} · refreshes every ${refreshSeconds} s</p>
<h2>Pools</h2><ul>${pools || '<li class="muted">none</li>'}</ul>
<h2>Members</h2>
<table id="members"><tr><th>pool</th><th>member</th><th>state (answers)</th><th>weight</th><th>tier</th><th>this node's probes</th><th>votes</th><th>override</th><th>last error</th></tr>
${rows.join('\n')}
</table>
<h2>Recent state changes</h2>${changes}
<h2>Recent edits</h2>${editList}
</body></html>
`;
}

export function statusPage(deps: StatusPageDeps): Route {
  const refresh = deps.refreshSeconds ?? 5;
  return async (url): Promise<RouteResult> => {
    const status = await deps.status(url);
    if (status.status !== 200) return status;
    let edits: readonly RecentEdit[] | string = 'the audit log is not available';
    if (deps.edits) {
      try {
        edits = await deps.edits();
      } catch (err) {
        edits = `the audit log cannot be read now (${(err as Error).message})`;
      }
    }
    return { status: 200, body: render(status.body as StatusBody, deps.transitions(), edits, refresh, Date.now()), contentType: 'text/html; charset=utf-8' };
  };
}

/** The newest `size` transitions, newest first. */
export class TransitionRing {
  readonly #items: RecentTransition[] = [];
  constructor(readonly size = 50) {}

  add(t: RecentTransition): void {
    this.#items.unshift(t);
    if (this.#items.length > this.size) this.#items.length = this.size;
  }

  list(): readonly RecentTransition[] {
    return this.#items;
  }
}
