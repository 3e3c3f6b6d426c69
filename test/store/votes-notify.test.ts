// Votes in PostgreSQL: NOTIFY lbdns_votes only when a vote moves (300 a chunk), vantage point rows, the quorum checks.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import pg from 'pg';
import { openStore, type HealthReport, type Store } from '../../src/store/store.js';
import { createTestDatabase, storeConfig, type TestDatabase } from '../helpers/db.js';
import { need } from '../helpers/prerequisite.js';

let db: TestDatabase;
let store: Store;
/** Plain SQL, and the marker notifications. */
let c: pg.Client;
/** LISTEN lbdns_votes only. */
let listener: pg.Client;
const heard: string[] = [];
let poolId: number;
let nextAddress = 1;
let markers = 0;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  db = await createTestDatabase();
  // NOTIFY lbdns_votes is heard through LISTEN: the PostgreSQL path.
  if (db.url === undefined) return;
  store = await openStore(storeConfig(db), { role: 'server', migrate: true });
  await store.addZone({ name: 'votes.test' });
  await store.addPool({ name: 'www.votes.test' });
  c = new pg.Client(db.url);
  await c.connect();
  poolId = (await c.query(`select id from pools where name = 'www.votes.test'`)).rows[0].id;
  listener = new pg.Client(db.url);
  await listener.connect();
  listener.on('notification', (n) => {
    if (n.channel === 'lbdns_votes' && n.payload !== undefined) heard.push(n.payload);
  });
  await listener.query('LISTEN lbdns_votes');
});
afterAll(async () => {
  await listener?.end();
  await c?.end();
  await store?.close();
  await db?.drop();
});
beforeEach((ctx) => {
  need(ctx, db.url === undefined ? 'no PostgreSQL on 127.0.0.1:5432 (NOTIFY lbdns_votes is heard through LISTEN)' : undefined);
});

/** n new members of the pool (198.18.0.0/15 addresses: nothing is ever sent to them), their ids ascending. */
async function newMembers(n: number): Promise<number[]> {
  const first = nextAddress;
  nextAddress += n;
  const r = await c.query(
    `insert into pool_members (pool_id, address)
     select $1, ('198.18.0.0'::inet + g) from generate_series($2::integer, $3::integer) g returning id`,
    [poolId, first, first + n - 1],
  );
  return r.rows.map((row) => Number(row.id)).sort((a, b) => a - b);
}

function report(memberId: number, up: boolean, lastCheck = Date.now()): HealthReport {
  return { memberId, up, since: Date.now() - 5000, lastCheck, latencyMs: 2, lastError: up ? null : 'HTTP 503', transitions: 1, heartbeatSeconds: 30 };
}

/** Sends a marker notification and waits until it is heard; returns its index in `heard`. */
async function mark(): Promise<number> {
  const marker = `marker ${++markers}`;
  await c.query(`select pg_notify('lbdns_votes', $1)`, [marker]);
  const until = Date.now() + 5000;
  while (!heard.includes(marker)) {
    if (Date.now() > until) throw new Error(`marker notification not heard within 5 s`);
    await sleep(10);
  }
  return heard.indexOf(marker);
}

/**
 * What `op` made PostgreSQL notify on lbdns_votes: everything heard between a marker sent before it and one sent after
 * (notifications of different transactions arrive in the order they committed).
 */
async function notified(op: () => Promise<unknown>): Promise<string[]> {
  const from = (await mark()) + 1;
  await op();
  return heard.slice(from, await mark());
}

interface Payload {
  readonly vantage: string;
  readonly votes: { readonly member: number; readonly state: string; readonly ahead: number }[];
}

function parse(payload: string): Payload {
  const space = payload.indexOf(' ');
  return {
    vantage: payload.slice(0, space),
    votes: payload
      .slice(space + 1)
      .split(',')
      .map((item) => {
        const [member, state, ahead] = item.split(':');
        return { member: Number(member), state, ahead: Number(ahead) };
      }),
  };
}

const votes = (ids: readonly number[], state: string): string => ids.map((id) => `${id}:${state}:0`).join(',');

describe('NOTIFY lbdns_votes', () => {
  it('a first report of three members: one notification for that vantage point, with the three votes', async () => {
    const [a, b, d] = await newMembers(3);
    const got = await notified(() => store.reportHealth('node-a', [report(d, true), report(a, true), report(b, false)]));
    expect(got).toEqual([`node-a ${a}:1:0,${b}:0:0,${d}:1:0`]);
  });

  it('a heartbeat that rewrites the rows without a state change says nothing; a change of one says only that one', async () => {
    const [a, b, d] = await newMembers(3);
    await store.reportHealth('node-a', [report(a, true), report(b, true), report(d, false)]);
    const beatAt = async () => (await c.query(`select heartbeat_at from member_health where node = 'node-a' and member_id = $1`, [a])).rows[0].heartbeat_at as Date;
    const earlier = await beatAt();
    await sleep(20);
    const beat = await notified(() => store.reportHealth('node-a', [report(a, true), report(b, true), report(d, false)]));
    expect(beat).toEqual([]);
    // The rows were rewritten all the same.
    expect((await beatAt()).getTime()).toBeGreaterThan(earlier.getTime());
    const moved = await notified(() => store.reportHealth('node-a', [report(a, true), report(b, false), report(d, false)]));
    expect(moved).toEqual([`node-a ${b}:0:0`]);
  });

  it('700 votes in one report: three notifications of 300, 300 and 100 votes, all for that vantage point', async () => {
    const ids = await newMembers(700);
    const got = await notified(() => store.reportHealth('node-b', ids.map((id) => report(id, id % 3 !== 0))));
    expect(got).toHaveLength(3);
    const parts = got.map(parse).sort((x, y) => x.votes[0].member - y.votes[0].member);
    expect(parts.map((p) => p.vantage)).toEqual(['node-b', 'node-b', 'node-b']);
    expect(parts.map((p) => p.votes.length)).toEqual([300, 300, 100]);
    const all = parts.flatMap((p) => p.votes);
    expect(all.map((v) => v.member)).toEqual(ids);
    expect(all.every((v) => v.state === (v.member % 3 !== 0 ? '1' : '0') && v.ahead === 0)).toBe(true);
    for (const p of got) expect(Buffer.byteLength(p)).toBeLessThan(8000);
  });

  it('a heartbeat of 5,000 rows of which 50 change state: exactly those 50 votes notified, quickly', async () => {
    const ids = await newMembers(5000);
    await store.reportHealth('node-h', ids.map((id) => report(id, true)));
    const flipped = new Set(ids.filter((_, i) => i % 100 === 0));
    const started = performance.now();
    const got = await notified(() => store.reportHealth('node-h', ids.map((id) => report(id, !flipped.has(id)))));
    const ms = performance.now() - started;
    const votes = got.map(parse).flatMap((p) => p.votes);
    expect(votes.map((v) => v.member).sort((x, y) => x - y)).toEqual([...flipped].sort((x, y) => x - y));
    expect(votes.every((v) => v.state === '0')).toBe(true);
    // Generous: the statement itself takes tens of milliseconds; a trigger joining transition tables took seconds.
    expect(ms).toBeLessThan(3000);
  });

  it('one statement writing two vantage points’ votes: one notification each', async () => {
    const [a, b] = await newMembers(2);
    const got = await notified(() =>
      c.query(
        `insert into member_health (member_id, node, up, since) values ($1, 'node-x', true, now()), ($2, 'node-x', false, now()), ($1, 'node-y', false, now())`,
        [a, b],
      ),
    );
    expect(got.sort()).toEqual([`node-x ${a}:1:0,${b}:0:0`, `node-y ${a}:0:0`]);
  });

  it('withdrawn votes are notified with "-"', async () => {
    const [a, b, d] = await newMembers(3);
    await store.reportHealth('node-a', [report(a, true), report(b, true), report(d, false)]);
    let count = 0;
    const got = await notified(async () => (count = await store.withdrawVotes('node-a', [d, a])));
    expect(count).toBe(2);
    expect(got).toEqual([`node-a ${votes([a, d], '-')}`]);
    expect((await store.readVotes()).filter((v) => [a, b, d].includes(v.memberId))).toEqual([{ memberId: b, vantage: 'node-a', up: true, ahead: 0 }]);
    // Nothing to withdraw: nothing said.
    expect(await notified(() => store.withdrawVotes('node-a', [a]))).toEqual([]);
  });

  it('readVotes leaves out the votes of the vantage point named (a node knows its own), and only those', async () => {
    const [a, b] = await newMembers(2);
    await store.reportHealth('node-own', [report(a, true), report(b, false)]);
    await store.reportHealth('node-peer', [report(a, false)]);
    const mine = (rows: readonly { memberId: number }[]) => rows.filter((v) => [a, b].includes(v.memberId));
    expect(mine(await store.readVotes()).length).toBe(3);
    expect(mine(await store.readVotes(undefined, 'node-own'))).toEqual([{ memberId: a, vantage: 'node-peer', up: false, ahead: 0 }]);
    expect(mine(await store.readVotes(60, 'node-own'))).toEqual([{ memberId: a, vantage: 'node-peer', up: false, ahead: 0 }]);
    expect(mine(await store.readVotes(60, 'node-peer')).map((v) => v.memberId).sort()).toEqual([a, b].sort());
  });

  it('takeVotes deletes every vote of one vantage point and returns them (notified as withdrawn); the others stay', async () => {
    const [a, b] = await newMembers(2);
    await store.reportHealth('node-t', [report(a, true), report(b, false)]);
    await store.reportHealth('node-u', [report(a, false)]);
    let taken: readonly { memberId: number; up: boolean }[] = [];
    const got = await notified(async () => (taken = await store.takeVotes('node-t')));
    expect([...taken].sort((x, y) => x.memberId - y.memberId)).toEqual([{ memberId: a, up: true }, { memberId: b, up: false }]);
    expect(got).toEqual([`node-t ${votes([a, b], '-')}`]);
    expect((await store.readVotes()).filter((v) => [a, b].includes(v.memberId))).toEqual([{ memberId: a, vantage: 'node-u', up: false, ahead: 0 }]);
    expect(await store.takeVotes('node-t')).toEqual([]);
  });

  it('a vote whose last check lies 120 s past the database clock carries its lead, here and in readVotes', async () => {
    const [a, b] = await newMembers(2);
    const ahead = Date.now() + 120_000;
    const cast = (await notified(() => store.reportHealth('node-c', [report(a, true, ahead), report(b, true)]))).map(parse);
    expect(cast).toHaveLength(1);
    const [va, vb] = cast[0].votes;
    expect(va).toMatchObject({ member: a, state: '1' });
    expect(va.ahead).toBeGreaterThanOrEqual(100);
    expect(va.ahead).toBeLessThanOrEqual(121);
    expect(vb).toEqual({ member: b, state: '1', ahead: 0 });
    // A state change keeps telling the lead.
    const moved = (await notified(() => store.reportHealth('node-c', [report(a, false, ahead)]))).map(parse);
    expect(moved[0].votes).toHaveLength(1);
    expect(moved[0].votes[0].ahead).toBeGreaterThanOrEqual(100);
    const read = (await store.readVotes()).find((v) => v.memberId === a && v.vantage === 'node-c');
    expect(read?.ahead).toBeGreaterThanOrEqual(100);
    expect(read?.ahead).toBeLessThanOrEqual(121);
  });

  it('deleting a pool member deletes its votes with it, and says "-" for each vantage point that had voted', async () => {
    const [a, b] = await newMembers(2);
    await store.reportHealth('node-a', [report(a, true), report(b, true)]);
    await store.reportHealth('node-b', [report(a, false)]);
    const address = (await c.query('select host(address) as h from pool_members where id = $1', [a])).rows[0].h as string;
    const got = await notified(() => store.removeMember('www.votes.test', address));
    expect(got.sort()).toEqual([`node-a ${a}:-:0`, `node-b ${a}:-:0`]);
    expect((await c.query('select count(*)::int as n from member_health where member_id = $1', [a])).rows[0].n).toBe(0);
    expect((await c.query('select count(*)::int as n from member_health where member_id = $1', [b])).rows[0].n).toBe(1);
  });
});

describe('vantage points', () => {
  it('beat() registers the vantage point; the next beat reads it back with a small heartbeat age', async () => {
    const first = await store.beatVantage('v-one', 'node', 2, Date.now());
    // The read does not see the statement's own write.
    expect(first.map((v) => v.name)).not.toContain('v-one');
    expect((await store.listVantages()).map((v) => v.name)).toContain('v-one');
    await sleep(150);
    const second = (await store.beatVantage('v-one', 'node', 2, Date.now())).find((v) => v.name === 'v-one');
    expect(second).toMatchObject({ name: 'v-one', kind: 'node', heartbeatSeconds: 2, retiredAt: null, retiredBy: null });
    expect(second!.heartbeatAge).toBeGreaterThanOrEqual(0.1);
    expect(second!.heartbeatAge).toBeLessThan(2);
    expect(Math.abs(second!.clockOffset!)).toBeLessThan(2);
    // The interval and kind follow the latest beat; a clock ahead shows as its offset.
    await store.beatVantage('v-one', 'agent', 5, Date.now() + 60_000);
    const third = (await store.listVantages()).find((v) => v.name === 'v-one')!;
    expect(third).toMatchObject({ kind: 'agent', heartbeatSeconds: 5 });
    expect(third.clockOffset).toBeGreaterThan(58);
    expect(third.clockOffset).toBeLessThan(62);
    expect(third.heartbeatAge).toBeLessThan(1);
  });

  it('refuses a vantage point name with a space, and writes nothing', async () => {
    const table = async () => (await c.query('select * from vantage_points order by name')).rows;
    const before = await table();
    await expect(store.beatVantage('bad name', 'node', 2, Date.now())).rejects.toThrow(/^vantage point name "bad name" must be 1 to 255 printable characters without spaces$/);
    expect(await table()).toEqual(before);
  });

  it('retireVantage keeps its retirement across later beats', async () => {
    await store.beatVantage('v-two', 'agent', 2, Date.now());
    const retired = await store.retireVantage('v-two', 'ops');
    expect(retired.retiredAt).not.toBeNull();
    expect(retired.retiredBy).toBe('ops');
    await sleep(20);
    await store.beatVantage('v-two', 'agent', 2, Date.now());
    const after = (await store.beatVantage('v-two', 'agent', 2, Date.now())).find((v) => v.name === 'v-two')!;
    expect(after).toMatchObject({ retiredAt: retired.retiredAt, retiredBy: 'ops' });
    expect(after.heartbeatAge).toBeLessThan(1);
    // Retiring again keeps the first time and the first name.
    expect(await store.retireVantage('v-two', 'someone-else')).toMatchObject({ retiredAt: retired.retiredAt, retiredBy: 'ops' });
    await expect(store.retireVantage('v-absent', 'ops')).rejects.toMatchObject({ code: 'E_NOT_FOUND', message: 'no vantage point v-absent' });
  });

  it('forgetVantage deletes the vantage point and its votes (notified as withdrawn)', async () => {
    const [a, b] = await newMembers(2);
    await store.beatVantage('v-three', 'node', 2, Date.now());
    await store.retireVantage('v-three', 'ops');
    await store.reportHealth('v-three', [report(a, true), report(b, false)]);
    await store.reportHealth('v-keep', [report(a, true)]);
    let forgotten: { votes: number } | undefined;
    const got = await notified(async () => (forgotten = await store.forgetVantage('v-three')));
    expect(forgotten).toEqual({ votes: 2 });
    expect(got).toEqual([`v-three ${votes([a, b], '-')}`]);
    const left = await store.readVotes();
    expect(left.filter((v) => v.vantage === 'v-three')).toEqual([]);
    expect(left.filter((v) => v.vantage === 'v-keep' && v.memberId === a)).toHaveLength(1);
    expect((await store.listVantages()).map((v) => v.name)).not.toContain('v-three');
    await expect(store.forgetVantage('v-three')).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
    // Its name may register again, not retired.
    await store.beatVantage('v-three', 'node', 2, Date.now());
    expect((await store.listVantages()).find((v) => v.name === 'v-three')).toMatchObject({ retiredAt: null });
  });
});

describe('quorum and probers in the pools table', () => {
  const settings = async () => (await c.query(`select quorum, probers from pools where id = $1`, [poolId])).rows[0];

  it('defaults to auto without probers, and takes the rules that can be met', async () => {
    expect(await settings()).toEqual({ quorum: 'auto', probers: null });
    for (const [quorum, probers] of [['majority', 1], ['all-down', 3], ['any-up', null], ['local', null], ['auto', 64]] as const) {
      await c.query('update pools set quorum = $1, probers = $2 where id = $3', [quorum, probers, poolId]);
      expect(await settings()).toEqual({ quorum, probers });
    }
    await c.query(`update pools set quorum = 'auto', probers = null where id = $1`, [poolId]);
  });

  const refused: [string, string | null, string, RegExp][] = [
    ['quorum local with probers 1', null, `update pools set quorum = 'local', probers = 1 where id = $1`, /^pool www\.votes\.test: quorum local cannot be met with probers 1: a node that does not probe a member has no local view of it; use majority, any-up or all-down$/],
    ['probers 1 on a pool already local', `update pools set quorum = 'local', probers = null where id = $1`, 'update pools set probers = 1 where id = $1', /quorum local cannot be met with probers 1/],
    ['quorum local on a pool with probers', `update pools set quorum = 'majority', probers = 3 where id = $1`, `update pools set quorum = 'local' where id = $1`, /quorum local cannot be met with probers 3/],
    ['quorum bogus', null, `update pools set quorum = 'bogus' where id = $1`, /^pool www\.votes\.test: quorum "bogus" must be auto, local, any-up, majority or all-down$/],
    ['probers 0', null, 'update pools set probers = 0 where id = $1', /^pool www\.votes\.test: probers 0 is outside 1\.\.64$/],
    ['probers 65', null, 'update pools set probers = 65 where id = $1', /^pool www\.votes\.test: probers 65 is outside 1\.\.64$/],
  ];

  it.each(refused)('refuses %s with one line naming the problem, and leaves the pool as it was', async (_label, first, text, message) => {
    if (first !== null) await c.query(first, [poolId]);
    const before = (await c.query('select * from pools where id = $1', [poolId])).rows[0];
    const version = (await c.query('select version from config_version')).rows[0].version;
    await expect(c.query(text, [poolId])).rejects.toThrow(message);
    expect((await c.query('select * from pools where id = $1', [poolId])).rows[0]).toEqual(before);
    expect((await c.query('select version from config_version')).rows[0].version).toBe(version);
    await c.query(`update pools set quorum = 'auto', probers = null where id = $1`, [poolId]);
  });

  it('refuses a new pool with quorum local and probers', async () => {
    const zone = (await c.query(`select id from zones where name = 'votes.test'`)).rows[0].id;
    await expect(c.query(`insert into pools (zone_id, name, quorum, probers) values ($1, 'new.votes.test', 'local', 2)`, [zone])).rejects.toThrow(
      /^pool new\.votes\.test: quorum local cannot be met with probers 2/,
    );
    expect((await c.query(`select count(*)::int as n from pools where name = 'new.votes.test'`)).rows[0].n).toBe(0);
  });
});
