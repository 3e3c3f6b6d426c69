// Health agreed across vantage points for real: two lbdns nodes and a probe agent in their own network namespaces,
// one PostgreSQL, four HTTP backends in a namespace of their own (test/helpers/vantage-lab.ts).
//
// A node whose path to the backends is cut (a blackhole route in its namespace) is outvoted under `majority` and on
// its own under `local`; when every vantage point is cut the members leave both nodes' answers within
// interval × fall + timeout + 1 s; with `probers 1` the backends' logs show each member probed by one vantage point
// only, a third as often as by three and half as often as by a pair. The pool answers SERVFAIL when no member is up
// (all_down servfail), so "the members are down" is an answer dig can see, not a fail-open answer that hides it.
// Needs root, iproute2, dig and the local PostgreSQL's Unix socket; without them it is skipped, under CI it fails.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probersOf, proberSet } from '../../src/health/quorum.js';
import { createTestDatabase, pgAvailable, type TestDatabase } from '../helpers/db.js';
import { socketUrl, waitFor } from '../helpers/netns.js';
import { need } from '../helpers/prerequisite.js';
import { BACKENDS, LAN, NAMES, VANTAGES, VantageLab, ZONE, cleanLeftovers, missingPrerequisites, ownNamespaces, type Answer, type NodeId, type VantageId } from '../helpers/vantage-lab.js';

const missing = missingPrerequisites() ?? ((await pgAvailable()) ? undefined : 'no PostgreSQL answers on 127.0.0.1:5432');

const POOL = `www.${ZONE}`;
const INTERVAL_MS = 500;
const TIMEOUT_MS = 250;
const FALL = 2;
/** The acceptance bound for "down on every node" once every vantage point sees the members down. */
const DOWN_BOUND_MS = INTERVAL_MS * FALL + TIMEOUT_MS + 1000;
/** Probes are counted over windows this long: 8 intervals, so one probe more or less moves a count by an eighth. */
const WINDOW_MS = 4000;
const ALL = [...BACKENDS].sort();
const NODES: readonly NodeId[] = ['a', 'b'];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const same = (a: Answer, b: readonly string[]): boolean => Array.isArray(a) && a.length === b.length && a.every((x, i) => x === b[i]);

describe('health agreed across vantage points (network namespaces)', () => {
  let db: TestDatabase | undefined;
  let lab: VantageLab | undefined;
  /** Backend address → pool member id. */
  const memberIds = new Map<string, number>();

  async function sql(text: string): Promise<any[]> {
    const c = new pg.Client({ connectionString: db!.url });
    await c.connect();
    try {
      return (await c.query(text)).rows;
    } finally {
      await c.end();
    }
  }

  /** The pool's members as a node's /explain shows them. */
  async function members(v: NodeId): Promise<any[]> {
    const { status, body } = await lab!.ops(v, `/explain?name=${POOL}&type=A`);
    if (status !== 200 || !body.pool) throw new Error(`explain on ${NAMES[v]}: ${status} ${JSON.stringify(body).slice(0, 300)}`);
    return body.pool.members;
  }

  /** The vote a member's row in /explain shows for one vantage point. */
  const voteOf = (m: any, vantage: string): any => m.votes?.votes.find((x: any) => x.vantage === vantage);

  async function votesDetail(v: VantageId): Promise<any> {
    return (await lab!.ops(v, '/readyz')).body.votes;
  }

  /** Runs a step; on failure the tail of every process's log is attached. */
  async function step(body: (lab: VantageLab) => Promise<void>): Promise<void> {
    try {
      await body(lab!);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${lab?.diagnostics() ?? ''}`, { cause: err });
    }
  }

  async function setPool(columns: string): Promise<void> {
    await sql(`update pools set ${columns} where name = '${POOL}'`);
  }

  /** Waits until both nodes run the rule (explain: votes null under local) and, for a voting rule, the probers. */
  async function waitRule(rule: 'local' | 'majority', probers: number | null = null): Promise<void> {
    await waitFor(`both nodes to apply quorum ${rule}, probers ${probers}`, 5000, async () => {
      for (const v of NODES) {
        for (const m of await members(v)) {
          if (rule === 'local' ? m.votes !== null : m.votes?.rule !== rule || m.votes.probers !== probers) return false;
        }
      }
      return true;
    }, 100);
  }

  /** Waits until both nodes answer every member. */
  async function waitAllAnswered(timeoutMs = 5000): Promise<void> {
    await waitFor('both nodes to answer every member', timeoutMs, async () => {
      const answers = await Promise.all(NODES.map((v) => lab!.answer(v, POOL)));
      return answers.every((a) => same(a, ALL));
    }, 100);
  }

  /** Waits until a node's own probes (its own vote in explain) see every member `up`. */
  async function waitOwn(v: NodeId, up: boolean, timeoutMs = 5000): Promise<void> {
    await waitFor(`${NAMES[v]}'s own probes to see every member ${up ? 'up' : 'down'}`, timeoutMs, async () => {
      const ms = await members(v);
      return ms.every((m) => voteOf(m, NAMES[v])?.up === up);
    }, 100);
  }

  beforeAll(async () => {
    if (missing !== undefined) return;
    cleanLeftovers();
    db = await createTestDatabase();
    if (!db.url) throw new Error('createTestDatabase gave no PostgreSQL URL');
    lab = VantageLab.create(socketUrl(db.url));
    await step(async (lab) => {
      await lab.startBackends();
      // Node A migrates and seeds the zone; the pool goes in before B and the agent start.
      await lab.startNode('a');
      await sql(`insert into pools (zone_id, name, count, all_down, quorum, check_kind, check_port, check_path, interval_ms, timeout_ms, rise, fall)
                 select id, '${POOL}', ${BACKENDS.length}, 'servfail', 'majority', 'http', 8080, '/health', ${INTERVAL_MS}, ${TIMEOUT_MS}, 1, ${FALL}
                   from zones where name = '${ZONE}'`);
      for (const b of BACKENDS) {
        const [row] = await sql(`insert into pool_members (pool_id, address) select id, '${b}' from pools where name = '${POOL}' returning id`);
        memberIds.set(b, row.id);
      }
      await Promise.all([lab.startNode('b'), lab.startAgent()]);
      await waitFor('every vantage point to see the three live', 10_000, async () => {
        for (const v of VANTAGES) if ((await votesDetail(v)).live.length !== 3) return false;
        return true;
      }, 100);
      await waitAllAnswered(10_000);
    });
  }, 90_000);

  afterAll(async () => {
    const pids = lab?.processIds() ?? [];
    await lab?.teardown();
    await db?.drop();
    if (lab) {
      expect(ownNamespaces()).toEqual([]);
      for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
    }
  }, 60_000);

  it('every node sees the three vantage points live and answers every member', async (ctx) => {
    need(ctx, missing);
    await step(async (lab) => {
      for (const v of VANTAGES) {
        const votes = await votesDetail(v);
        expect(votes, NAMES[v]).toMatchObject({ shared: true, self: NAMES[v], live: [NAMES.g, NAMES.a, NAMES.b].sort(), agentsLive: 1, probedHere: BACKENDS.length });
      }
      for (const v of NODES) {
        expect(await lab.answer(v, POOL)).toEqual(ALL);
        for (const m of await members(v)) {
          expect(m.votes).toMatchObject({ rule: 'majority', state: 'up', ups: 3, downs: 0 });
        }
      }
    });
  });

  it('majority: node A cut off from the backends votes them down, is outvoted, and neither node removes them', { timeout: 30_000 }, async (ctx) => {
    need(ctx, missing);
    await step(async (lab) => {
      lab.block('a');
      try {
        await waitOwn('a', false);
        // A's probes fail; B and the agent still see the members: 2 up against 1 down on both nodes.
        for (const v of NODES) {
          for (const m of await members(v)) {
            expect(voteOf(m, NAMES.a), `${NAMES[v]} on ${m.address}`).toMatchObject({ up: false, counted: true });
            expect(m.votes, `${NAMES[v]} on ${m.address}`).toMatchObject({ rule: 'majority', state: 'up', ups: 2, downs: 1 });
            expect(m.health).toBe('up');
          }
        }
        // And they stay in both nodes' answers for several probe intervals.
        const until = Date.now() + 2000;
        while (Date.now() < until) {
          for (const v of NODES) expect(await lab.answer(v, POOL), NAMES[v]).toEqual(ALL);
          await sleep(100);
        }
      } finally {
        lab.unblock('a');
      }
      await waitOwn('a', true);
    });
  });

  it('local: node A cut off from the backends removes them and node B does not', { timeout: 30_000 }, async (ctx) => {
    need(ctx, missing);
    await step(async (lab) => {
      await setPool(`quorum = 'local'`);
      try {
        await waitRule('local');
        lab.block('a');
        try {
          await waitFor('node A to answer SERVFAIL (every member down by its own probes)', 5000, async () => (await lab.answer('a', POOL)) === 'SERVFAIL', 100);
          for (const m of await members('a')) expect(m.health, m.address).toBe('down');
          for (const m of await members('b')) expect(m.health, m.address).toBe('up');
          const until = Date.now() + 1500;
          while (Date.now() < until) {
            expect(await lab.answer('a', POOL)).toBe('SERVFAIL');
            expect(await lab.answer('b', POOL)).toEqual(ALL);
            await sleep(100);
          }
        } finally {
          lab.unblock('a');
        }
        await waitAllAnswered();
      } finally {
        await setPool(`quorum = 'majority'`);
      }
      await waitRule('majority');
    });
  });

  it(`every vantage point cut off: the members go down on both nodes within interval × fall + timeout + 1 s (${DOWN_BOUND_MS} ms)`, { timeout: 30_000 }, async (ctx) => {
    need(ctx, missing);
    await step(async (lab) => {
      await waitAllAnswered();
      for (const v of NODES) await waitOwn(v, true);
      const downAt: Partial<Record<NodeId, number>> = {};
      let blockedAt = 0;
      try {
        for (const v of VANTAGES) lab.block(v);
        blockedAt = Date.now();
        // Each node is asked in its own loop, so that a slow dig to one does not delay seeing the other.
        await Promise.all(
          NODES.map(async (v) => {
            const deadline = blockedAt + DOWN_BOUND_MS + 3000;
            while (Date.now() < deadline) {
              // The moment the question is sent, not when dig returns: starting a dig in a namespace takes tens of
              // milliseconds (hundreds on a loaded machine) before the query leaves, and the answer says the state
              // the node had when it got the query.
              const asked = Date.now();
              if ((await lab.answer(v, POOL)) === 'SERVFAIL') {
                downAt[v] = asked;
                return;
              }
              await sleep(20);
            }
          }),
        );
        const took = NODES.map((v) => (downAt[v] === undefined ? Infinity : downAt[v]! - blockedAt));
        expect(took[0], `${NAMES.a}: members down after ${took[0]} ms`).toBeLessThanOrEqual(DOWN_BOUND_MS);
        expect(took[1], `${NAMES.b}: members down after ${took[1]} ms`).toBeLessThanOrEqual(DOWN_BOUND_MS);
        for (const v of NODES) {
          for (const m of await members(v)) {
            expect(m.health, `${NAMES[v]} on ${m.address}`).toBe('down');
            expect(m.votes, `${NAMES[v]} on ${m.address}`).toMatchObject({ rule: 'majority', state: 'down' });
            expect(m.votes.downs).toBeGreaterThan(m.votes.ups);
          }
        }
      } finally {
        for (const v of VANTAGES) lab.unblock(v);
      }
      await waitAllAnswered();
    });
  });

  it('probers 1: each member is probed by one vantage point, about 1/3 as often as by three and 1/2 as often as by a pair', { timeout: 60_000 }, async (ctx) => {
    need(ctx, missing);
    await step(async (lab) => {
      const sourceName = new Map<string, string>(VANTAGES.map((v) => [LAN[v], NAMES[v]]));
      /** Waits until the vantage points probe `expected` members each (readyz), then one more interval; counts a window. */
      const measure = async (who: readonly VantageId[], expected: (v: VantageId) => number | undefined, total: number) => {
        await waitFor(`probing to settle (${total} member probes across ${who.map((v) => NAMES[v]).join(', ')})`, 10_000, async () => {
          const probed = await Promise.all(who.map(async (v) => (await votesDetail(v)).probedHere as number));
          return probed.reduce((a, b) => a + b, 0) === total && who.every((v, i) => expected(v) === undefined || expected(v) === probed[i]);
        }, 100);
        await sleep(INTERVAL_MS * 2);
        const from = Date.now();
        await sleep(WINDOW_MS);
        const counts = lab.countHits(from, Date.now());
        return new Map([...counts].map(([backend, bySource]) => [backend, new Map([...bySource].map(([src, n]) => [sourceName.get(src) ?? src, n]))]));
      };
      const sum = (m: Map<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0);
      const describeCounts = (c: Map<string, Map<string, number>>): string => JSON.stringify([...c].map(([b, s]) => [b, Object.fromEntries(s)]));
      const perInterval = WINDOW_MS / INTERVAL_MS;

      // Three vantage points, every one probing every member.
      const everyThree = await measure(VANTAGES, () => BACKENDS.length, BACKENDS.length * 3);
      for (const [backend, bySource] of everyThree) {
        expect([...bySource.keys()].sort(), `${backend}: ${describeCounts(everyThree)}`).toEqual([...Object.values(NAMES)].sort());
        for (const n of bySource.values()) {
          expect(n, `${backend}: ${describeCounts(everyThree)}`).toBeGreaterThanOrEqual(perInterval / 2);
          expect(n, `${backend}: ${describeCounts(everyThree)}`).toBeLessThanOrEqual(perInterval + 2);
        }
      }

      // probers 1: one prober per member, the one rendezvous hashing over the live set names.
      await setPool('probers = 1');
      await waitRule('majority', 1);
      const three = proberSet(Object.values(NAMES));
      const oneOfThree = await measure(VANTAGES, () => undefined, BACKENDS.length);
      for (const [backend, bySource] of oneOfThree) {
        const expected = probersOf(memberIds.get(backend)!, three, 1);
        expect([...bySource.keys()], `${backend}: ${describeCounts(oneOfThree)}`).toEqual(expected);
        const ratio = sum(bySource) / sum(everyThree.get(backend)!);
        expect(ratio, `${backend}: ${describeCounts(oneOfThree)} against ${describeCounts(everyThree)}`).toBeGreaterThan(0.2);
        expect(ratio, `${backend}: ${describeCounts(oneOfThree)} against ${describeCounts(everyThree)}`).toBeLessThan(0.47);
      }

      // The pair alone: the agent stops and ages out of the live set (3 heartbeats of 0.5 s).
      await lab.stop('g');
      await waitFor('both nodes to see the pair alone', 5000, async () => {
        for (const v of NODES) {
          const votes = await votesDetail(v);
          if (votes.live.join() !== [NAMES.a, NAMES.b].join() || votes.agentsLive !== 0) return false;
        }
        return true;
      }, 100);
      const pairSet = proberSet([NAMES.a, NAMES.b]);
      const oneOfTwo = await measure(NODES, () => undefined, BACKENDS.length);
      await setPool('probers = null');
      await waitRule('majority', null);
      const everyTwo = await measure(NODES, () => BACKENDS.length, BACKENDS.length * 2);
      for (const [backend, bySource] of oneOfTwo) {
        expect([...bySource.keys()], `${backend}: ${describeCounts(oneOfTwo)}`).toEqual(probersOf(memberIds.get(backend)!, pairSet, 1));
        expect([...everyTwo.get(backend)!.keys()].sort(), `${backend}: ${describeCounts(everyTwo)}`).toEqual([NAMES.a, NAMES.b]);
        const ratio = sum(bySource) / sum(everyTwo.get(backend)!);
        expect(ratio, `${backend}: ${describeCounts(oneOfTwo)} against ${describeCounts(everyTwo)}`).toBeGreaterThan(0.35);
        expect(ratio, `${backend}: ${describeCounts(oneOfTwo)} against ${describeCounts(everyTwo)}`).toBeLessThan(0.7);
      }
    });
  });
});
