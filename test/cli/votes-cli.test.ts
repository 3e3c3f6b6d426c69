// Votes through the real CLI: a pool's quorum and probers, `lbdns vantage list|retire|forget`, and `lbdns status`
// showing every vantage point's vote and the state the quorum decides, on rows written with plain SQL.
import { userInfo } from 'node:os';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probersOf, proberSet } from '../../src/health/quorum.js';
import { openStore, type Store } from '../../src/store/store.js';
import { createTestDatabase, sqlUrl, storeConfig, type TestDatabase } from '../helpers/db.js';
import { cliHarness } from './harness.js';

let db: TestDatabase;
let store: Store;
let sql: pg.Client;
const { lbdns, fails } = cliHarness(() => ({ db, store }));
const user = userInfo().username;

beforeAll(async () => {
  db = await createTestDatabase();
  store = await openStore(storeConfig(db), { role: db.url === undefined ? 'server' : 'client', migrate: true });
  await store.addZone({ name: 'example.test' });
  sql = new pg.Client(sqlUrl(db));
  await sql.connect();
});
afterAll(async () => {
  await sql?.end();
  await store?.close();
  await db?.drop();
});

const poolRow = async (name: string) => (await sql.query('select quorum, probers from pools where name = $1', [name])).rows[0];
const vantageRows = async () => (await sql.query('select name, kind, heartbeat_at, retired_at, retired_by from vantage_points order by name')).rows;
const voteRows = async () => (await sql.query('select member_id, node, up from member_health order by member_id, node')).rows;

/** A vantage point whose heartbeat is `ageSeconds` old by the database's clock. */
async function vantage(name: string, kind: 'node' | 'agent', ageSeconds: number, clockOffset: number | null = null): Promise<void> {
  await sql.query(
    `insert into vantage_points (name, kind, heartbeat_at, heartbeat_interval, clock_offset) values ($1, $2, now() - make_interval(secs => $3), 2, $4)
     on conflict (name) do update set kind = excluded.kind, heartbeat_at = excluded.heartbeat_at, clock_offset = excluded.clock_offset`,
    [name, kind, ageSeconds, clockOffset],
  );
}

/** The vote of `node` on a member, its row written `ageSeconds` ago; negative: written now, its probe time that far ahead (a clock in the future). */
async function vote(memberId: number, node: string, up: boolean, ageSeconds = 1): Promise<void> {
  await sql.query(
    `insert into member_health (member_id, node, up, since, last_check, heartbeat_at, heartbeat_interval)
     values ($1, $2, $3, now() - interval '1 minute', now() - make_interval(secs => $4), now() - make_interval(secs => greatest($4, 0)), 30)
     on conflict (member_id, node) do update set up = excluded.up, last_check = excluded.last_check, heartbeat_at = excluded.heartbeat_at`,
    [memberId, node, up, ageSeconds],
  );
}

async function memberId(pool: string, address: string): Promise<number> {
  const m = (await store.listMembers(pool)).find((x) => x.address === address);
  if (!m) throw new Error(`no member ${address} in ${pool}`);
  return m.id;
}

async function statusJson(pool: string): Promise<any[]> {
  const r = await lbdns(['status', pool, '--json']);
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout);
}

/** The VOTES block of `lbdns status POOL`, one array of cells per row (columns split on two or more spaces), the header first. */
async function votesBlock(pool: string): Promise<string[][]> {
  const r = await lbdns(['status', pool]);
  expect(r.stderr).toBe('');
  const lines = r.stdout.split('\n');
  const start = lines.findIndex((l) => l.startsWith('VOTES'));
  expect(start).toBeGreaterThan(0);
  const end = lines.findIndex((l, i) => i > start && l === '');
  // A row's age moves with the machine's speed: any "Ns ago" reads "Ns ago".
  return lines.slice(start + 1, end).map((l) => l.split(/ {2,}/).map((cell) => cell.replace(/^\d+s ago$/, 'Ns ago')));
}

describe('pool --quorum and --probers', { timeout: 120_000 }, () => {
  it('are stored, shown in the description and the list when not the defaults, and cleared by --probers all', async () => {
    const added = await lbdns(['pool', 'add', 'q.example.test', '--quorum', 'majority', '--probers', '2']);
    expect(added.stderr).toBe('');
    expect(added.stdout).toMatch(/^added pool q\.example\.test \(zone example\.test\): wrr, .*, rise 2, fall 3; quorum majority, probers 2\n$/);
    expect(await poolRow('q.example.test')).toEqual({ quorum: 'majority', probers: 2 });
    const listed = (await lbdns(['pool', 'list'])).stdout.split('\n');
    expect(listed[1]).toMatch(/^q\.example\.test\s+example\.test\s+wrr\s+30\s+2\s+open\s+0\s+http :80\/; quorum majority, probers 2$/);
    expect(JSON.parse((await lbdns(['pool', 'list', '--json'])).stdout)[0]).toMatchObject({ quorum: 'majority', probers: 2 });

    expect((await lbdns(['pool', 'set', 'q.example.test', '--probers', 'all'])).stdout).toMatch(/fall 3; quorum majority\n$/);
    expect(await poolRow('q.example.test')).toEqual({ quorum: 'majority', probers: null });
    expect((await lbdns(['pool', 'set', 'q.example.test', '--probers', '3', '--quorum', 'all-down'])).stdout).toMatch(/fall 3; quorum all-down, probers 3\n$/);
    expect((await lbdns(['pool', 'set', 'q.example.test', '--probers', ''])).stdout).toMatch(/fall 3; quorum all-down\n$/);
    expect(await poolRow('q.example.test')).toEqual({ quorum: 'all-down', probers: null });
    // Back to the defaults: nothing about votes in the description or the list.
    expect((await lbdns(['pool', 'set', 'q.example.test', '--quorum', 'auto'])).stdout).toMatch(/, rise 2, fall 3\n$/);
    expect((await lbdns(['pool', 'list'])).stdout.split('\n')[1]).toMatch(/http :80\/$/);
    expect((await lbdns(['pool', 'set', 'q.example.test', '--quorum', 'local'])).stdout).toMatch(/fall 3; quorum local\n$/);
    expect(await poolRow('q.example.test')).toEqual({ quorum: 'local', probers: null });
  });

  it('refuses bad values and quorum local with probers in one line, writing nothing', async () => {
    const before = await poolRow('q.example.test');
    const localWithProbers = (n: number) =>
      `pool q.example.test: quorum local cannot be met with probers ${n}: a node that does not probe a member has no local view of it; use majority, any-up or all-down`;
    await fails(['pool', 'set', 'q.example.test', '--probers', '1'], 2, localWithProbers(1));
    await fails(['pool', 'set', 'q.example.test', '--quorum', 'local', '--probers', '1'], 2, localWithProbers(1));
    await fails(['pool', 'set', 'q.example.test', '--quorum', 'sometimes'], 2, 'quorum "sometimes" must be one of auto, local, any-up, majority, all-down');
    await fails(['pool', 'set', 'q.example.test', '--probers', '0'], 2, 'probers 0 must be a whole number from 1 to 64');
    await fails(['pool', 'set', 'q.example.test', '--probers', '65'], 2, 'probers 65 must be a whole number from 1 to 64');
    await fails(['pool', 'set', 'q.example.test', '--probers', '1.5'], 2, 'probers 1.5 must be a whole number from 1 to 64');
    await fails(['pool', 'set', 'q.example.test', '--probers', 'many'], 2, 'pool set: --probers must be a number or all');
    await fails(['pool', 'add', 'r.example.test', '--quorum', 'local', '--probers', '2'], 2, localWithProbers(2).replace('q.example', 'r.example'));
    expect(await poolRow('q.example.test')).toEqual(before);
    expect(await poolRow('r.example.test')).toBeUndefined();

    // The other way round: a pool with probers refuses quorum local.
    expect((await lbdns(['pool', 'set', 'q.example.test', '--quorum', 'majority', '--probers', '2'])).code).toBe(0);
    await fails(['pool', 'set', 'q.example.test', '--quorum', 'local'], 2, localWithProbers(2));
    expect(await poolRow('q.example.test')).toEqual({ quorum: 'majority', probers: 2 });
    expect((await lbdns(['pool', 'rm', 'q.example.test'])).code).toBe(0);
  });
});

describe('lbdns vantage', { timeout: 120_000 }, () => {
  it('lists every vantage point, live or not, with its votes, and names that vote without being one', async () => {
    expect(await lbdns(['vantage', 'list'])).toEqual({ code: 0, stdout: 'no vantage points\n', stderr: '' });
    await store.addPool({ name: 'v.example.test' });
    await store.addMember('v.example.test', { address: '192.0.2.50' });
    await store.addMember('v.example.test', { address: '192.0.2.51' });
    const [m1, m2] = [await memberId('v.example.test', '192.0.2.50'), await memberId('v.example.test', '192.0.2.51')];
    await vantage('v-live', 'node', 0, 0.25);
    await vantage('v-stale', 'node', 3600);
    await vantage('v-agent', 'agent', 1, -1.5);
    await vote(m1, 'v-live', true);
    await vote(m2, 'v-live', false);
    await vote(m1, 'v-stale', true);
    await vote(m1, 'v-ghost', true);

    const lines = (await lbdns(['vantage', 'list'])).stdout.split('\n');
    expect(lines[0]).toMatch(/^NAME\s+KIND\s+STATE\s+HEARTBEAT\s+INTERVAL\s+CLOCK OFFSET\s+STARTED\s+VOTES\s+RETIRED$/);
    expect(lines[1]).toMatch(/^v-agent\s+agent\s+live\s+\ds ago\s+2 s\s+-1\.5 s\s+\S+Z\s+0\s+-$/);
    expect(lines[2]).toMatch(/^v-live\s+node\s+live\s+\ds ago\s+2 s\s+\+0\.3 s\s+\S+Z\s+2\s+-$/);
    expect(lines[3]).toMatch(/^v-stale\s+node\s+not live\s+(59m|60m|1h) ago\s+2 s\s+-\s+\S+Z\s+1\s+-$/);
    expect(lines[4]).toMatch(/^v-ghost\s+-\s+unregistered \(votes ignored\)\s+-\s+-\s+-\s+-\s+1\s+-$/);
    expect(lines.slice(5)).toEqual(['']);

    const json = JSON.parse((await lbdns(['vantage', 'list', '--json'])).stdout);
    expect(json.map((v: any) => [v.name, v.kind, v.state, v.live, v.votes])).toEqual([
      ['v-agent', 'agent', 'live', true, 0],
      ['v-live', 'node', 'live', true, 2],
      ['v-stale', 'node', 'not live', false, 1],
      ['v-ghost', null, 'unregistered', false, 1],
    ]);
    expect(json[1]).toMatchObject({ heartbeatIntervalSeconds: 2, liveForSeconds: 6, clockOffsetSeconds: 0.25, retiredAt: null, retiredBy: null });
    expect(json[2].heartbeatAgeSeconds).toBeGreaterThanOrEqual(3600);
  });

  it('retire records who and stops the votes counting; forget deletes the vantage point and its votes', async () => {
    const retired = await lbdns(['vantage', 'retire', 'v-agent']);
    expect(retired.stderr).toBe('');
    expect(retired.stdout).toMatch(new RegExp(`^retired vantage point v-agent \\(agent\\) at \\S+Z by ${user}: its votes no longer count; \`lbdns vantage forget v-agent\` lets the name vote again\\n$`));
    const row = (await vantageRows()).find((v) => v.name === 'v-agent');
    expect(row.retired_by).toBe(user);
    expect(row.retired_at).not.toBeNull();
    const line = (await lbdns(['vantage', 'list'])).stdout.split('\n').find((l) => l.startsWith('v-agent'));
    expect(line).toMatch(new RegExp(`^v-agent\\s+agent\\s+retired\\s+.*\\S+Z by ${user}$`));

    expect(await lbdns(['vantage', 'forget', 'v-stale'])).toEqual({ code: 0, stdout: 'forgot vantage point v-stale and its 1 vote\n', stderr: '' });
    expect((await vantageRows()).map((v) => v.name)).toEqual(['v-agent', 'v-live']);
    expect((await voteRows()).map((v) => v.node).sort()).toEqual(['v-ghost', 'v-live', 'v-live']);
  });

  it('an unknown or malformed name is one line, and nothing changes', async () => {
    const [vantages, votes] = [await vantageRows(), await voteRows()];
    await fails(['vantage', 'retire', 'nope'], 1, 'no vantage point nope');
    await fails(['vantage', 'forget', 'nope'], 1, 'no vantage point nope');
    await fails(['vantage', 'forget', 'two words'], 2, 'vantage point name "two words" must be 1 to 255 printable characters without spaces');
    await fails(['vantage', 'retire'], 2, 'vantage retire: expected NAME, got nothing');
    await fails(['vantage', 'drop', 'v-live'], 2, 'vantage: unknown subcommand "drop" (list, retire, forget)');
    expect(await vantageRows()).toEqual(vantages);
    expect(await voteRows()).toEqual(votes);
    // Clean up for the status tests below.
    await sql.query('delete from vantage_points');
    await sql.query('delete from member_health');
    await store.removePool('v.example.test');
  });
});

describe('lbdns status with votes', { timeout: 120_000 }, () => {
  let auto: number;
  let up: number;
  let down: number;

  beforeAll(async () => {
    await store.addPool({ name: 'auto.example.test' });
    await store.addMember('auto.example.test', { address: '192.0.2.30' });
    await store.addPool({ name: 'maj.example.test', check: { quorum: 'majority' } });
    await store.addMember('maj.example.test', { address: '192.0.2.1' });
    await store.addMember('maj.example.test', { address: '192.0.2.2' });
    [auto, up, down] = [await memberId('auto.example.test', '192.0.2.30'), await memberId('maj.example.test', '192.0.2.1'), await memberId('maj.example.test', '192.0.2.2')];
    await vantage('node-a', 'node', 0);
    await vantage('node-b', 'node', 1);
    await vantage('node-old', 'node', 3600);
    // The agent's heartbeat is an hour old for now: no agent is live.
    await vantage('agent-x', 'agent', 3600);
    await vote(auto, 'node-a', true);
    await vote(auto, 'node-b', false);
    await vote(auto, 'agent-x', false);
  });

  it('auto is local while no agent is live (each node by its own probes), and majority once one is', async () => {
    let [m] = await statusJson('auto.example.test');
    expect(m.state).toBe('mixed');
    expect(m.agreed).toMatchObject({ quorum: 'auto', probers: null, rule: 'local', state: 'mixed', ups: 1, downs: 1 });
    expect(m.agreed.votes).toEqual([
      { vantage: 'agent-x', kind: 'agent', state: 'down', ageSeconds: expect.any(Number), counted: false, ignored: 'not live' },
      { vantage: 'node-a', kind: 'node', state: 'up', ageSeconds: expect.any(Number), counted: true, ignored: null },
      { vantage: 'node-b', kind: 'node', state: 'down', ageSeconds: expect.any(Number), counted: true, ignored: null },
    ]);
    expect(await votesBlock('auto.example.test')).toEqual([
      ['POOL', 'MEMBER', 'RULE', 'AGREED', 'VANTAGE', 'KIND', 'VOTE', 'AGE', 'COUNTS'],
      ['auto.example.test', '192.0.2.30', 'local (auto)', 'mixed (each node by its own probes)', 'agent-x', 'agent', 'down', 'Ns ago', 'no: not live'],
      ['auto.example.test', '192.0.2.30', 'local (auto)', 'mixed (each node by its own probes)', 'node-a', 'node', 'up', 'Ns ago', 'yes, on node-a'],
      ['auto.example.test', '192.0.2.30', 'local (auto)', 'mixed (each node by its own probes)', 'node-b', 'node', 'down', 'Ns ago', 'yes, on node-b'],
    ]);

    // The agent's heartbeat arrives: auto means majority, and 1 up against 2 down is down.
    await vantage('agent-x', 'agent', 0);
    [m] = await statusJson('auto.example.test');
    expect(m.agreed).toMatchObject({ quorum: 'auto', rule: 'majority', state: 'down', ups: 1, downs: 2, assigned: ['agent-x', 'node-a', 'node-b'] });
    expect(m.agreed.votes.map((v: any) => v.counted)).toEqual([true, true, true]);
    expect((await votesBlock('auto.example.test'))[1].slice(2, 4)).toEqual(['majority (auto)', 'down (1 up, 2 down)']);
  });

  it('majority: 2 up against 1 down is up, 1 up against 2 down is down; stale, retired and unknown vantage points do not count', async () => {
    await vote(up, 'node-a', true);
    await vote(up, 'node-b', true);
    await vote(up, 'agent-x', false);
    await vote(up, 'node-old', false, 3600);
    await vote(up, 'ghost', false);
    await vote(down, 'node-a', true);
    await vote(down, 'node-b', false);
    await vote(down, 'agent-x', false);

    let [a, b] = await statusJson('maj.example.test');
    expect(a).toMatchObject({ address: '192.0.2.1', agreed: { quorum: 'majority', rule: 'majority', state: 'up', ups: 2, downs: 1 } });
    expect(a.agreed.votes.map((v: any) => [v.vantage, v.counted, v.ignored])).toEqual([
      ['agent-x', true, null],
      ['ghost', false, 'unknown vantage point'],
      ['node-a', true, null],
      ['node-b', true, null],
      ['node-old', false, 'not live'],
    ]);
    expect(b).toMatchObject({ address: '192.0.2.2', agreed: { rule: 'majority', state: 'down', ups: 1, downs: 2 } });
    // The node columns and their JSON are as before.
    expect(a).toMatchObject({ state: 'mixed', nodes: expect.arrayContaining([expect.objectContaining({ node: 'node-old', state: 'down', stale: true })]) });

    const block = await votesBlock('maj.example.test');
    expect(block.filter((r) => r[1] === '192.0.2.1').map((r) => [r[3], r[4], r[8]])).toEqual([
      ['up (2 up, 1 down)', 'agent-x', 'yes'],
      ['up (2 up, 1 down)', 'ghost', 'no: unknown vantage point'],
      ['up (2 up, 1 down)', 'node-a', 'yes'],
      ['up (2 up, 1 down)', 'node-b', 'yes'],
      ['up (2 up, 1 down)', 'node-old', 'no: not live'],
    ]);
    expect(block.find((r) => r[1] === '192.0.2.2')?.[3]).toBe('down (1 up, 2 down)');

    // node-b retired: its down vote on .2 stops counting, 1 up against 1 down is a tie, and a tie is up.
    expect((await lbdns(['vantage', 'retire', 'node-b'])).code).toBe(0);
    [a, b] = await statusJson('maj.example.test');
    expect(b.agreed).toMatchObject({ state: 'up', ups: 1, downs: 1 });
    expect(b.agreed.votes.find((v: any) => v.vantage === 'node-b')).toMatchObject({ counted: false, ignored: 'retired' });
    expect(a.agreed).toMatchObject({ state: 'up', ups: 1, downs: 1 });
    const retiredRow = (await votesBlock('maj.example.test')).find((r) => r[1] === '192.0.2.2' && r[4] === 'node-b');
    expect(retiredRow?.slice(3)).toEqual(['up (1 up, 1 down)', 'node-b', 'node', 'down', 'Ns ago', 'no: retired']);
  });

  it('with probers, only the assigned vantage points’ votes count, as the nodes assign them', async () => {
    expect((await lbdns(['pool', 'set', 'maj.example.test', '--probers', '1'])).code).toBe(0);
    const live = proberSet(['node-a', 'agent-x']);
    const [a, b] = await statusJson('maj.example.test');
    for (const m of [a, b]) {
      const [prober] = probersOf(m.memberId, live, 1);
      expect(m.agreed.probers).toBe(1);
      expect(m.agreed.assigned).toEqual([prober]);
      const counted = m.agreed.votes.filter((v: any) => v.counted).map((v: any) => v.vantage);
      expect(counted).toEqual([prober]);
      const ownVote = m.agreed.votes.find((v: any) => v.vantage === prober).state;
      expect(m.agreed).toMatchObject({ rule: 'majority', state: ownVote, ups: ownVote === 'up' ? 1 : 0, downs: ownVote === 'down' ? 1 : 0 });
      const other = prober === 'node-a' ? 'agent-x' : 'node-a';
      expect(m.agreed.votes.find((v: any) => v.vantage === other)).toMatchObject({ counted: false, ignored: 'not a prober of this member' });
    }
  });

  it('a member nobody voted on is unknown, in both forms', async () => {
    await store.addMember('maj.example.test', { address: '192.0.2.3' });
    const [, , c] = await statusJson('maj.example.test');
    expect(c.agreed).toMatchObject({ state: 'unknown', ups: 0, downs: 0, votes: [] });
    expect((await votesBlock('maj.example.test')).find((r) => r[1] === '192.0.2.3')?.slice(3)).toEqual(['unknown (0 up, 0 down)', '-', '-', '-', '-', 'no votes']);
  });

  it('a vote whose probe time lies far past the database clock does not count', async () => {
    const id = await memberId('maj.example.test', '192.0.2.3');
    // Both live now (heartbeats from the earlier tests can be older than 3 intervals on a loaded machine): what is
    // tested is the clock, not the liveness.
    await vantage('node-a', 'node', 0);
    await vantage('agent-x', 'agent', 0);
    // Written by a vantage point whose clock runs a minute ahead: last_check 60 s in the database's future.
    await vote(id, 'node-a', true, -60);
    await vote(id, 'agent-x', false, -10);
    const [, , c] = await statusJson('maj.example.test');
    expect(c.agreed.votes.map((v: any) => [v.vantage, v.counted, v.ignored])).toEqual([
      ['agent-x', true, null],
      ['node-a', false, 'clock ahead'],
    ]);
    expect(c.agreed).toMatchObject({ state: 'down', ups: 0, downs: 1 });
  });
});
