// GET /explain?name=..&type=A&client=IP|ecs=CIDR[&format=text] on the ops port: this node's own reasoning for one question.
import type { Client } from '../core/answer.js';
import { typeCode } from '../core/constants.js';
import type { ClientSubnet } from '../core/query.js';
import type { Snapshot } from '../core/snapshot.js';
import { maskBytes, parseAddress, MAX_PREFIX } from '../geo/address.js';
import type { HealthView } from '../health/health-view.js';
import type { Route, RouteResult } from '../server/ops-http.js';
import { explain, type ExplainDeps } from './explain.js';
import { renderText } from './render-text.js';

export interface ExplainRouteDeps extends ExplainDeps {
  /** The serving snapshot and health view, read once per request. */
  readonly snapshot: () => Snapshot;
  readonly health: () => HealthView;
}

/** Without client= or ecs=, the question is asked as from the ops caller, which is local. */
export const DEFAULT_CLIENT = '127.0.0.1';

const bad = (error: string): RouteResult => ({ status: 400, body: { error } });

/** "203.0.113.0/24" → an ECS option as a resolver would send it (bits past the prefix cleared). */
export function parseEcs(text: string): ClientSubnet | string {
  const slash = text.indexOf('/');
  const address = parseAddress(slash < 0 ? text : text.slice(0, slash));
  if (!address || (address.family === 4 && text.slice(0, slash < 0 ? undefined : slash).includes(':'))) return `ecs ${JSON.stringify(text)} is not an address or CIDR`;
  const width = address.family === 4 ? 32 : 128;
  const prefixText = slash < 0 ? String(MAX_PREFIX[address.family]) : text.slice(slash + 1);
  const prefix = Number(prefixText);
  if (!/^[0-9]{1,3}$/.test(prefixText) || prefix > width) return `ecs ${JSON.stringify(text)}: prefix must be 0–${width}`;
  return { family: address.family === 4 ? 1 : 2, sourcePrefix: prefix, address: maskBytes(address.bytes, prefix) };
}

/** Builds the question's client from the query string, or says what is wrong with it. */
export function clientFrom(params: URLSearchParams): Client | string {
  const address = params.get('client') ?? DEFAULT_CLIENT;
  if (!parseAddress(address)) return `client ${JSON.stringify(address)} is not an IP address`;
  const ecsText = params.get('ecs');
  if (ecsText === null) return { address, ecs: undefined };
  const ecs = parseEcs(ecsText);
  return typeof ecs === 'string' ? ecs : { address, ecs };
}

export function explainRoute(deps: ExplainRouteDeps): Route {
  return (url) => {
    const p = url.searchParams;
    const name = p.get('name')?.trim();
    if (!name) return bad('name= is required, e.g. /explain?name=www.example.test&type=A&ecs=203.0.113.0/24');
    const typeText = p.get('type') ?? 'A';
    const qtype = typeCode(typeText);
    if (qtype === undefined) return bad(`type ${JSON.stringify(typeText)} is not a record type`);
    const client = clientFrom(p);
    if (typeof client === 'string') return bad(client);
    const doText = p.get('do');
    if (doText !== null && doText !== '0' && doText !== '1') return bad(`do ${JSON.stringify(doText)} must be 0 or 1`);
    const e = explain(deps.snapshot(), deps.health(), name, qtype, client, deps, doText === null ? {} : { dnssecOk: doText === '1' });
    return { status: 200, body: p.get('format') === 'text' ? renderText(e) + '\n' : e };
  };
}
