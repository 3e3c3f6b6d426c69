// How this node would answer one question, step by step, from the same core, health and policies the wire uses.
//
// The final answer comes from the real answerQuery with the real chooser, so explain cannot disagree with dig. Policies
// have memory: the chooser asks each to describe its choice, which leaves the live state as it was.
import { answerQuery, type Answer, type AnswerContext, type Client, type RR } from '../core/answer.js';
import { QCLASS, RCODE_NAME, typeName } from '../core/constants.js';
import type { Query } from '../core/query.js';
import type { Pool, PoolMember, Snapshot, Zone } from '../core/snapshot.js';
import type { ZoneSigner } from '../dnssec/sign.js';
import { clientNetwork, formatNetwork } from '../geo/address.js';
import type { ClientLocation, Locator } from '../geo/locator.js';
import type { HealthView } from '../health/health-view.js';
import type { MemberHealth } from '../health/tracker.js';
import type { MemberAgreement } from '../health/agreement.js';
import { candidates } from '../policies/candidates.js';
import { overrideText, poolOverrides } from '../pools/overrides.js';
import { createChooser } from '../policies/choose.js';
import { memberDistanceKm } from '../geo/member-place.js';
import type { Description } from '../policies/policy.js';
import type { PolicyStates } from '../policies/policy-states.js';
import { rdataText } from './rdata-text.js';

export interface ExplainDeps {
  readonly nodeName: string;
  /** This node's live selection state: described from, never advanced. */
  readonly policies: PolicyStates;
  /** Looks clients up without counting misses; absent: the live environment's locator (which counts them). */
  readonly locator?: Pick<Locator, 'peek'>;
  /** This node's monitor: since, last check and last error per member. */
  readonly memberStates?: () => readonly MemberHealth[];
  /** How the vantage points' votes decided a member (src/health/agreement.ts); absent: this node's probes alone. */
  readonly votes?: (memberId: number) => MemberAgreement | undefined;
  /** This process's signer: whether a zone is signed here, and the answer as a query with DO would get it. */
  readonly dnssec?: { readonly signerFor: (zone: Zone) => ZoneSigner | undefined; readonly signer: AnswerContext['dnssec'] };
}

export interface ExplainedMember {
  readonly id: number;
  readonly address: string;
  readonly family: 4 | 6;
  readonly enabled: boolean;
  /** As answers see it (this node's probes, or the votes under the pool's quorum rule); unknown is never a candidate. */
  readonly health: 'up' | 'down' | 'unknown';
  /** The quorum rule and the votes that decided `health`; null when this node's own probes alone decide (rule local). */
  readonly votes: MemberAgreement | null;
  readonly since: string | null;
  readonly lastCheck: string | null;
  readonly lastError: string | null;
  readonly tier: number;
  readonly weight: number;
  readonly country: string | null;
  readonly continent: string | null;
  readonly region: string | null;
  readonly distanceKm: number | null;
  /** Up, enabled, of the asked family and the tier in use: the policy may pick it. */
  readonly candidate: boolean;
  /** Why it is or is not a candidate, in words. */
  readonly reason: string;
  /** In the set the policy narrowed the candidates to (e.g. the geo level's), when it narrowed them. */
  readonly inSet: boolean;
  readonly answered: boolean;
  /** An override or open maintenance window in force now, in words (who, why, until); null: none. */
  readonly override: string | null;
}

export interface ExplainedLocation extends ClientLocation {
  /** The network the client was looked up by, and where it came from. */
  readonly lookedUp: string | null;
  readonly lookedUpFrom: 'ecs' | 'resolver' | null;
}

export interface ExplainedPool {
  readonly name: string;
  readonly policy: string;
  readonly count: number;
  readonly ttl: number;
  readonly allDownBehaviour: 'open' | 'servfail';
  readonly family: 4 | 6;
  readonly tier: number | null;
  readonly location: ExplainedLocation | null;
  readonly level: string | null;
  readonly levelKey: string | null;
  /** How the policy chose, in its own words. */
  readonly summary: string;
  readonly members: readonly ExplainedMember[];
  readonly allDown: boolean;
  readonly scope: number;
}

export interface ExplainedRecord {
  readonly name: string;
  readonly ttl: number;
  readonly class: string;
  readonly type: string;
  readonly data: string;
}

export interface Explanation {
  readonly node: string;
  readonly snapshotVersion: number;
  readonly question: { readonly name: string; readonly type: string };
  readonly client: { readonly address: string; readonly ecs: string | null };
  readonly zone: string | null;
  readonly kind: Answer['kind'];
  readonly rcode: string;
  readonly authoritative: boolean;
  readonly pool: ExplainedPool | null;
  readonly answer: readonly ExplainedRecord[];
  readonly authority: readonly ExplainedRecord[];
  readonly additional: readonly ExplainedRecord[];
  /** The ECS scope the reply carries (capped at the source prefix); null when the question carries no ECS. */
  readonly ecsScope: number | null;
  /** null: the zone has no DNSSEC key. Otherwise whether this node signs its answers, with which key. */
  readonly dnssec: { readonly signed: boolean; readonly keyTag: number; readonly algorithm: number; readonly dnssecOk: boolean; readonly note: string } | null;
  readonly notes: readonly string[];
}

function records(rrs: readonly RR[]): ExplainedRecord[] {
  return rrs.map((rr) => ({ name: `${rr.name}.`, ttl: rr.ttl, class: rr.cls === QCLASS.CH ? 'CH' : 'IN', type: typeName(rr.type), data: rdataText(rr.type, rr.rdata) }));
}

const iso = (ms: number | null | undefined): string | null => (ms === null || ms === undefined ? null : new Date(ms).toISOString());

function explainMembers(
  pool: Pool,
  family: 4 | 6,
  view: HealthView,
  states: ReadonlyMap<number, MemberHealth>,
  loc: ClientLocation | undefined,
  set: readonly number[] | undefined,
  answered: ReadonlySet<number>,
  votesOf: ((memberId: number) => MemberAgreement | undefined) | undefined,
): { members: ExplainedMember[]; tier: number | null } {
  const forced = poolOverrides(pool, Date.now()).active;
  const found = candidates(pool, family, (id) => view.get(id), forced);
  const inList = new Set(found.list.map((c) => c.member.id));
  const inSet = new Set(set ?? []);
  const tier = found.list.length ? found.list[0].member.priority : null;
  const members = pool.members.map((m: PoolMember): ExplainedMember => {
    const seen = view.get(m.id);
    const health = seen === undefined ? 'unknown' : seen ? 'up' : 'down';
    const s = states.get(m.id);
    const agreed = votesOf?.(m.id);
    const votes = agreed && agreed.rule !== 'local' ? agreed : null;
    let reason: string;
    const force = forced.get(m.id);
    if (m.family !== family) reason = `IPv${m.family}: not asked`;
    else if (!m.enabled) reason = 'drained (enabled = false)';
    else if (force !== undefined && force.state !== 'up') reason = overrideText(force);
    else if (found.allDown)
      reason = pool.allDown === 'servfail' ? 'no enabled member is up (down or not probed yet): the pool answers SERVFAIL' : 'no enabled member is up (down or not probed yet): answered anyway (fail-open)';
    else if (health === 'down' && force === undefined) reason = votes ? `down by the votes (${votes.rule}: ${votes.ups} up, ${votes.downs} down)` : 'down';
    else if (health === 'unknown') reason = 'not probed yet: handed out only once a probe says up';
    else if (inList.has(m.id)) reason = force === undefined ? 'candidate' : `candidate: ${overrideText(force)}`;
    else if (tier !== null && m.priority !== tier) reason = `tier ${m.priority}: tier ${tier} has healthy members`;
    else reason = 'weight 0: weighted members of its tier are up';
    return {
      id: m.id,
      address: m.address,
      family: m.family,
      enabled: m.enabled,
      health,
      votes,
      since: health === 'unknown' ? null : iso(s?.since),
      lastCheck: iso(s?.lastCheck),
      lastError: s?.lastError ?? null,
      tier: m.priority,
      weight: m.weight,
      country: m.location.country,
      continent: m.location.continent,
      region: m.location.region,
      distanceKm: loc ? roundKm(memberDistanceKm(m, loc)) : null,
      candidate: inList.has(m.id),
      reason,
      inSet: inSet.has(m.id),
      answered: answered.has(m.id),
      override: force === undefined ? null : overrideText(force),
    };
  });
  return { members, tier };
}

function roundKm(km: number | null): number | null {
  return km === null ? null : Math.round(km);
}

/** Explains one question from `client`; pure apart from reading the live state it copies. */
export function explain(
  snapshot: Snapshot,
  health: HealthView,
  name: string,
  qtype: number,
  client: Client,
  deps: ExplainDeps,
  opts: { readonly dnssecOk?: boolean } = {},
): Explanation {
  const qname = name.toLowerCase().replace(/\.$/, '');
  let location: ClientLocation | undefined;
  let described: Description | undefined;
  let asked: { pool: Pool; family: 4 | 6 } | undefined;
  const live = deps.policies.env.locator;
  const locate = (c: Client): ClientLocation => (location = deps.locator ? deps.locator.peek(c) : live!.locate(c));
  const env = { locator: live ? { locate } : undefined };
  const choose = createChooser(() => health, deps.policies, {}, { env, described: (_pool, d) => (described = d) });
  const query: Query = { id: 0, opcode: 0, rd: false, cd: false, qname, question: new Uint8Array(0), qtype, qclass: QCLASS.IN, edns: undefined };
  const unsigned = answerQuery(snapshot, query, client, {
    nodeName: deps.nodeName,
    choose: (pool, family, c) => {
      asked = { pool, family };
      return choose(pool, family, c);
    },
  });
  // Asked with DO (the default when the zone is signed): the records as a validating resolver gets them.
  const zoneOf = unsigned.zone === undefined ? undefined : snapshot.zones.get(unsigned.zone);
  const signer = zoneOf && deps.dnssec?.signerFor(zoneOf);
  const dnssecOk = opts.dnssecOk ?? zoneOf?.dnssec !== undefined;
  const answer = dnssecOk && deps.dnssec?.signer ? deps.dnssec.signer.sign(snapshot, query, unsigned) : unsigned;
  const dnssec = zoneOf?.dnssec
    ? {
        signed: signer !== undefined,
        keyTag: zoneOf.dnssec.keyTag,
        algorithm: zoneOf.dnssec.algorithm,
        dnssecOk,
        note: signer
          ? dnssecOk
            ? `signed with key ${zoneOf.dnssec.keyTag} (algorithm ${zoneOf.dnssec.algorithm}) for queries with DO`
            : `signed with key ${zoneOf.dnssec.keyTag} for queries with DO; this question was asked without DO`
          : `zone has key ${zoneOf.dnssec.keyTag} but this node cannot use it (LBDNS_KEY_SECRET unset or wrong): answered UNSIGNED`,
      }
    : null;

  const notes: string[] = [];
  let pool: ExplainedPool | null = null;
  if (asked) {
    const states = new Map((deps.memberStates?.() ?? []).map((s) => [s.memberId, s]));
    const answered = new Set(answer.choice?.members.map((m) => m.id) ?? []);
    const { members, tier } = explainMembers(asked.pool, asked.family, health, states, location, described?.set, answered, deps.votes);
    const net = clientNetwork(client);
    pool = {
      name: asked.pool.name,
      policy: asked.pool.policy,
      count: asked.pool.count,
      ttl: asked.pool.ttl,
      allDownBehaviour: asked.pool.allDown,
      family: asked.family,
      tier,
      location: location
        ? { ...location, lookedUp: net ? formatNetwork(net.family, net.bytes, net.prefix) : null, lookedUpFrom: net?.from ?? null }
        : null,
      level: described?.level ?? null,
      levelKey: described?.levelKey ?? null,
      summary: described?.summary ?? `the ${asked.pool.policy} policy picks ${asked.pool.count}`,
      members,
      allDown: answer.choice?.allDown ?? false,
      scope: answer.choice?.scope ?? 0,
    };
    if (described && answer.choice && !answer.choice.allDown && answer.choice.members.length > 0) notes.push(...described.notes);
  }
  const ecs = client.ecs;
  return {
    node: deps.nodeName,
    snapshotVersion: snapshot.version,
    question: { name: qname, type: typeName(qtype) },
    client: { address: client.address, ecs: ecs ? formatNetwork(ecs.family === 1 ? 4 : 6, ecs.address, ecs.sourcePrefix) : null },
    zone: answer.zone ?? null,
    kind: answer.kind,
    rcode: RCODE_NAME[answer.rcode] ?? String(answer.rcode),
    authoritative: answer.aa,
    pool,
    answer: records(answer.answer),
    authority: records(answer.authority),
    additional: records(answer.additional),
    ecsScope: ecs ? Math.min(answer.ecsScope, ecs.sourcePrefix) : null,
    dnssec,
    notes,
  };
}

