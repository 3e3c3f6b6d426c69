// Reloads through the build thread: images answer as a direct build does, a failed reload keeps the old snapshot, a full reload never stops answers.
import { deserialize } from 'node:v8';
import { afterEach, describe, expect, it } from 'vitest';
import type { AnswerContext } from '../../src/core/answer.js';
import { respond } from '../../src/core/respond.js';
import { EMPTY_SNAPSHOT } from '../../src/core/snapshot.js';
import { createLogger } from '../../src/obs/log.js';
import { createMetrics } from '../../src/obs/metrics.js';
import { buildSnapshot } from '../../src/snapshot/build.js';
import { BuildThread } from '../../src/snapshot/build-thread.js';
import { adoptImage, type SnapshotImage } from '../../src/snapshot/image.js';
import { Reloader } from '../../src/snapshot/reloader.js';
import type { PoolMemberRow, PoolRow, RecordRow, StoreContents, ZoneRow } from '../../src/store/rows.js';
import { buildQuery, decodeReply } from '../helpers/wire.js';

const zone = (id: number, name: string, serial = 1): ZoneRow => ({ id, name, mname: `ns1.${name}`, rname: `h.${name}`, serial, refresh: 3600, retry: 600, expire: 86400, minimum: 60, ttl: 300 });
const pool = (id: number, zoneId: number, name: string): PoolRow => ({
  id, zoneId, name, policy: 'wrr', ttl: 30, count: 2, allDown: 'open', checkKind: 'tcp', checkPort: 80, checkPath: '/', checkHost: null,
  expectStatusMin: 200, expectStatusMax: 399, checkInsecure: false, timeoutMs: 1000, intervalMs: 5000, rise: 2, fall: 3,
});
const member = (id: number, poolId: number, address: string): PoolMemberRow => ({ id, poolId, address, probeAddress: null, weight: 1, priority: 0, enabled: true, country: 'DE', continent: null, region: null, latitude: null, longitude: null });

/** `zones` zones of `perZone` names each (A, AAAA, MX, CNAME, a delegation), one pool of 4 members per zone. */
function contents(version: number, zones: number, perZone: number, serial = 1): StoreContents {
  const z: ZoneRow[] = [];
  const records: RecordRow[] = [];
  const pools: PoolRow[] = [];
  const members: PoolMemberRow[] = [];
  let id = 1;
  for (let i = 0; i < zones; i++) {
    const name = `z${i}.test`;
    z.push(zone(i + 1, name, serial));
    records.push({ id: id++, zoneId: i + 1, name, type: 'NS', ttl: null, content: `ns1.${name}` });
    records.push({ id: id++, zoneId: i + 1, name: `ns1.${name}`, type: 'A', ttl: null, content: '192.0.2.53' });
    records.push({ id: id++, zoneId: i + 1, name: `sub.${name}`, type: 'NS', ttl: null, content: `ns.sub.${name}` });
    records.push({ id: id++, zoneId: i + 1, name: `alias.${name}`, type: 'CNAME', ttl: null, content: `h0.${name}` });
    records.push({ id: id++, zoneId: i + 1, name: `a.b.c.${name}`, type: 'TXT', ttl: null, content: '"deep"' });
    for (let j = 0; j < perZone; j++) {
      records.push({ id: id++, zoneId: i + 1, name: `h${j}.${name}`, type: 'A', ttl: 300, content: `10.${i % 256}.${j >> 8}.${j & 255}` });
      if (j % 10 === 0) records.push({ id: id++, zoneId: i + 1, name: `h${j}.${name}`, type: 'AAAA', ttl: 300, content: `2001:db8::${j.toString(16)}` });
      if (j % 25 === 0) records.push({ id: id++, zoneId: i + 1, name: `h${j}.${name}`, type: 'MX', ttl: 300, content: `10 h0.${name}` });
    }
    pools.push(pool(i + 1, i + 1, `lb.${name}`));
    for (let k = 0; k < 4; k++) members.push(member((i + 1) * 10 + k, i + 1, k === 3 ? `2001:db8::${i}:${k}` : `198.51.100.${(i * 4 + k) % 250}`));
  }
  return { version, zones: z, records, pools, members, geoNetworks: [{ id: 1, network: '100.64.1.0/24', country: 'DE', continent: null, region: null, latitude: null, longitude: null }] };
}

const ctx: AnswerContext = { nodeName: 't', choose: (p, family) => ({ members: p.members.filter((m) => m.family === family), scope: 0, allDown: false }) };
const questions = (zones: number): [string, number][] => {
  const out: [string, number][] = [];
  for (let i = 0; i < zones; i += Math.max(1, Math.floor(zones / 7))) {
    const n = `z${i}.test`;
    for (const name of [n, `h0.${n}`, `h10.${n}`, `alias.${n}`, `x.sub.${n}`, `b.c.${n}`, `nope.${n}`, `lb.${n}`]) for (const t of [1, 28, 15, 6, 2]) out.push([name, t]);
  }
  return out;
};
const reply = (s: Parameters<typeof respond>[0], name: string, qtype: number): string => respond(s, buildQuery({ name, qtype, edns: {} }), '127.0.0.1', false, ctx).reply!.toString('hex');

/** The names an image's node chunks carry, and the names its patches list as gone. */
function sentNodes(image: SnapshotImage): { names: string[]; gone: string[] } {
  const names: string[] = [];
  const gone: string[] = [];
  for (const c of image.chunks) {
    const chunk = deserialize(c) as { t: string; names?: string[]; gone?: string[] };
    if (chunk.t === 'nodes') names.push(...chunk.names!);
    if (chunk.t === 'zone') gone.push(...chunk.gone!);
  }
  return { names: names.sort(), gone: gone.sort() };
}

/** The ids of the pools an image lists. */
function sentPools(image: SnapshotImage): number[] {
  const ids: number[] = [];
  for (const c of image.chunks) {
    const chunk = deserialize(c) as { t: string; pools?: { id: number[] } };
    if (chunk.t === 'pools') ids.push(...chunk.pools!.id);
  }
  return ids.sort((a, b) => a - b);
}

const threads: BuildThread[] = [];
const reloaders: Reloader[] = [];
afterEach(async () => {
  for (const r of reloaders.splice(0)) r.stop();
  await Promise.all(threads.splice(0).map((t) => t.close()));
});

describe('snapshot images from the build thread', () => {
  it('answer byte for byte as a snapshot built in place, and lend unchanged zones to the next image', async () => {
    const thread = new BuildThread();
    threads.push(thread);
    const first = contents(1, 12, 50);
    const built = await thread.full(first);
    expect(built.rebuilt).toBe(12);
    const adopted = await adoptImage(built.image, EMPTY_SNAPSHOT);
    const direct = buildSnapshot(first).snapshot;
    for (const [name, t] of questions(12)) expect(reply(adopted, name, t), `${name} ${t}`).toBe(reply(direct, name, t));
    expect(adopted.pools.map((p) => p.id)).toEqual(direct.pools.map((p) => p.id));

    // One zone's serial changes and a geo_networks row moves: only that zone is rebuilt, the rest is lent.
    const second = { ...contents(2, 12, 50), zones: contents(2, 12, 50).zones.map((z) => (z.name === 'z3.test' ? { ...z, serial: 9 } : z)), geoNetworks: [] };
    const next = await thread.full(second);
    // Only its head: the serial is the zone row's alone.
    expect(next.rebuilt).toBe(0);
    expect(next.restamped).toBe(1);
    const adopted2 = await adoptImage(next.image, adopted);
    expect(adopted2.zones.get('z4.test')).toBe(adopted.zones.get('z4.test'));
    expect(adopted2.zones.get('z3.test')).not.toBe(adopted.zones.get('z3.test'));
    // Its nodes are the same Map: the SOA is answered from the zone (the byte-for-byte check below asks it).
    expect(adopted2.zones.get('z3.test')!.nodes).toBe(adopted.zones.get('z3.test')!.nodes);
    const direct2 = buildSnapshot(second).snapshot;
    for (const [name, t] of questions(12)) expect(reply(adopted2, name, t), `${name} ${t}`).toBe(reply(direct2, name, t));
    expect(adopted2.geoNetworks?.size).toBe(0);

    // A receiver that holds none of the lent zones (a worker that just started) refuses the image and gets a complete one.
    await expect(adoptImage(next.image, EMPTY_SNAPSHOT)).rejects.toThrow(/does not hold/);
    const complete = await thread.complete();
    const fresh = await adoptImage(complete.image, EMPTY_SNAPSHOT);
    for (const [name, t] of questions(12)) expect(reply(fresh, name, t), `${name} ${t}`).toBe(reply(direct2, name, t));
  });

  it('keeps the unchanged nodes of a rebuilt zone as they were, and makes only the changed ones again', async () => {
    const thread = new BuildThread();
    threads.push(thread);
    const first = contents(1, 4, 50);
    const adopted = await adoptImage((await thread.full(first)).image, EMPTY_SNAPSHOT);
    // In z1: one address changes, one TTL changes, one name goes, one comes; the pools stay (lent).
    const edit = (c: StoreContents): StoreContents => ({
      ...c,
      records: [
        ...c.records
          .filter((r) => r.name !== 'h7.z1.test')
          .map((r) => (r.name === 'h5.z1.test' && r.type === 'A' ? { ...r, content: '10.9.9.9' } : r.name === 'h6.z1.test' ? { ...r, ttl: 301 } : r)),
        { id: 90_000, zoneId: 2, name: 'new.z1.test', type: 'A', ttl: null, content: '10.8.8.8' },
      ],
    });
    const second = edit(contents(2, 4, 50));
    const next = await thread.full(second);
    // Sent as a patch: the three changed names (h5, h6, new), the one gone (h7); not the zone's other ~60 names.
    expect({ rebuilt: next.rebuilt, patched: next.patched }).toEqual({ rebuilt: 0, patched: 1 });
    expect(sentNodes(next.image)).toEqual({ names: ['h5.z1.test', 'h6.z1.test', 'new.z1.test'], gone: ['h7.z1.test'] });
    // A receiver that holds z1 otherwise than the patch was made against (here: already edited) refuses it.
    const edited = await adoptImage((await thread.complete()).image, EMPTY_SNAPSHOT);
    await expect(adoptImage(next.image, edited)).rejects.toThrow(/patches zone z1.test/);
    const adopted2 = await adoptImage(next.image, adopted);
    const before = adopted.zones.get('z1.test')!.nodes;
    const after = adopted2.zones.get('z1.test')!.nodes;
    expect(after).not.toBe(before);
    for (const name of ['z1.test', 'ns1.z1.test', 'h0.z1.test', 'h10.z1.test', 'alias.z1.test', 'lb.z1.test']) expect(after.get(name), name).toBe(before.get(name));
    for (const name of ['h5.z1.test', 'h6.z1.test']) expect(after.get(name), name).not.toBe(before.get(name));
    expect(after.has('h7.z1.test')).toBe(false);
    expect(after.get('new.z1.test')?.rrsets.get(1)?.rdata[0]).toEqual(Uint8Array.of(10, 8, 8, 8));
    expect(after.size).toBe(before.size);
    // A patch's chunk holds the changed nodes' octets only.
    const rdataOf = (nodes: typeof after, name: string) => nodes.get(name)!.rrsets.get(1)!.rdata[0];
    expect(rdataOf(after, 'h5.z1.test').buffer.byteLength).toBeLessThan(1024);
    expect(rdataOf(after, 'h5.z1.test')).toEqual(Uint8Array.of(10, 9, 9, 9));
    expect(rdataOf(after, 'h0.z1.test').buffer.byteLength).toBeGreaterThan(100);
    const direct2 = buildSnapshot(second).snapshot;
    for (const [name, t] of [...questions(4), ['h5.z1.test', 1], ['h6.z1.test', 1], ['h7.z1.test', 1], ['new.z1.test', 1]] as [string, number][]) {
      expect(reply(adopted2, name, t), `${name} ${t}`).toBe(reply(direct2, name, t));
    }

    // After a refused image the thread makes no patch (it cannot know what the receivers hold): z1 comes whole, and
    // the receiver still keeps its unchanged nodes; the changed one's RDATA are copied out of the chunk it came in.
    thread.forget();
    const third = { ...second, version: 3, records: second.records.map((r) => (r.name === 'h5.z1.test' && r.type === 'A' ? { ...r, content: '10.7.7.7' } : r)) };
    const whole = await thread.full(third);
    expect({ rebuilt: whole.rebuilt, patched: whole.patched }).toEqual({ rebuilt: 4, patched: 0 });
    const adopted3 = await adoptImage(whole.image, adopted2);
    const nodes3 = adopted3.zones.get('z1.test')!.nodes;
    expect(nodes3.get('h0.z1.test')).toBe(after.get('h0.z1.test'));
    expect(rdataOf(nodes3, 'h5.z1.test')).toEqual(Uint8Array.of(10, 7, 7, 7));
    expect(rdataOf(nodes3, 'h5.z1.test').buffer.byteLength).toBeLessThanOrEqual(16);
    const direct3 = buildSnapshot(third).snapshot;
    for (const [name, t] of [...questions(4), ['h5.z1.test', 1], ['new.z1.test', 1]] as [string, number][]) expect(reply(adopted3, name, t), `${name} ${t}`).toBe(reply(direct3, name, t));
  });

  it('sends a zone whose SOA fields alone changed as its head: nodes and pools kept, answers as a build in place', async () => {
    const thread = new BuildThread();
    threads.push(thread);
    const first = contents(1, 12, 50);
    const adopted = await adoptImage((await thread.full(first)).image, EMPTY_SNAPSHOT);

    // Every zone's serial and SOA timers move (the pool serials, an operator's SOA edit): no zone is built again.
    const soaEdited = (version: number, c: StoreContents): StoreContents => ({ ...c, version, zones: c.zones.map((z) => ({ ...z, serial: z.serial + 5, refresh: 7200, minimum: 30, rname: `hostmaster.${z.name}` })) });
    const second = soaEdited(2, first);
    const next = await thread.full(second);
    expect({ rebuilt: next.rebuilt, restamped: next.restamped }).toEqual({ rebuilt: 0, restamped: 12 });
    const adopted2 = await adoptImage(next.image, adopted);
    const direct2 = buildSnapshot(second).snapshot;
    for (const [name, t] of questions(12)) expect(reply(adopted2, name, t), `${name} ${t}`).toBe(reply(direct2, name, t));
    expect(adopted2.zones.get('z3.test')!.serial).toBe(6);
    expect(adopted2.zones.get('z3.test')!.negativeTtl).toBe(30);
    // The same nodes (one Map) and pool objects (the health monitor, the vote agreement and the transfers see no pool
    // change); the new SOA is the zone's, answered from there (the byte-for-byte check above asks every apex's SOA).
    expect(adopted2.pools.length).toBe(12);
    adopted2.pools.forEach((p, i) => expect(p).toBe(adopted.pools[i]));
    expect(adopted2.zones.get('z3.test')!.nodes).toBe(adopted.zones.get('z3.test')!.nodes);
    expect(adopted2.zones.get('z3.test')!.nodes.get('lb.z3.test')!.pool).toBe(adopted.zones.get('z3.test')!.nodes.get('lb.z3.test')!.pool);
    expect(adopted2.zones.get('z3.test')!.soa).not.toEqual(adopted.zones.get('z3.test')!.soa);
    // The old snapshot is untouched (it may still be answering).
    expect(adopted.zones.get('z3.test')!.serial).toBe(1);
    for (const [name, t] of questions(12)) expect(reply(adopted, name, t), `${name} ${t}`).toBe(reply(buildSnapshot(first).snapshot, name, t));

    // A serial with a record, or the zone's default TTL (the TTL of records without one): that zone in full; an unusable SOA: not served.
    const soa3 = soaEdited(3, second);
    const third: StoreContents = {
      ...soa3,
      zones: soa3.zones.map((z) => (z.name === 'z6.test' ? { ...z, ttl: 900 } : z.name === 'z7.test' ? { ...z, mname: 'not a name' } : z)),
      records: soa3.records.map((r) => (r.name === 'h3.z5.test' && r.type === 'A' ? { ...r, content: '10.99.99.99' } : r)),
    };
    const skippedZones: string[] = [];
    const after = await thread.full(third);
    for (const s of after.skipped) if (s.table === 'zones') skippedZones.push(s.key);
    expect({ patched: after.patched, restamped: after.restamped, skippedZones }).toEqual({ patched: 2, restamped: 9, skippedZones: ['z7.test'] });
    const adopted3 = await adoptImage(after.image, adopted2);
    const direct3 = buildSnapshot(third).snapshot;
    expect(adopted3.zones.has('z7.test')).toBe(false);
    for (const [name, t] of questions(12)) expect(reply(adopted3, name, t), `${name} ${t}`).toBe(reply(direct3, name, t));
    expect(reply(adopted3, 'h3.z5.test', 1)).toBe(reply(direct3, 'h3.z5.test', 1));
    expect(decodeReply(respond(adopted3, buildQuery({ name: 'ns1.z6.test', qtype: 1, edns: {} }), '127.0.0.1', false, ctx).reply!).answers[0].ttl).toBe(900);

    // A receiver without the body (a worker that just started) refuses a head, and gets a complete image instead.
    await expect(adoptImage(next.image, EMPTY_SNAPSHOT)).rejects.toThrow(/needs the body of zone/);
  });

  it('lends the unchanged pools of a rebuilt zone: the same Pool objects, a changed one anew, answers as a build in place', async () => {
    const thread = new BuildThread();
    threads.push(thread);
    const first = contents(1, 12, 50);
    const adopted = await adoptImage((await thread.full(first)).image, EMPTY_SNAPSHOT);
    // A worker that starts gets a complete image: what it adopts can be lent to as well.
    const worker = await adoptImage((await thread.complete()).image, EMPTY_SNAPSHOT);

    // A record in every zone, and one member's weight in z2's pool: every zone is rebuilt, 11 pools are lent.
    const second: StoreContents = {
      ...first,
      version: 2,
      records: first.records.map((r) => (r.name.startsWith('h1.') && r.type === 'A' ? { ...r, ttl: 301 } : r)),
      members: first.members!.map((m) => (m.poolId === 3 && m.address.endsWith('.9') ? { ...m, weight: 5 } : m)),
    };
    const next = await thread.full(second);
    expect({ rebuilt: next.rebuilt, patched: next.patched }).toEqual({ rebuilt: 0, patched: 12 });
    // The patches keep the receivers' pools: only the changed one is listed, with the one node that points at it.
    expect(sentPools(next.image)).toEqual([3]);
    expect(sentNodes(next.image).names.filter((n) => n.startsWith('lb.'))).toEqual(['lb.z2.test']);
    const direct = buildSnapshot(second).snapshot;
    for (const receiver of [adopted, worker]) {
      const after = await adoptImage(next.image, receiver);
      for (const [name, t] of questions(12)) expect(reply(after, name, t), `${name} ${t}`).toBe(reply(direct, name, t));
      expect(after.pools.map((p) => p.id)).toEqual(receiver.pools.map((p) => p.id));
      after.pools.forEach((p, i) => (p.id === 3 ? expect(p).not.toBe(receiver.pools[i]) : expect(p).toBe(receiver.pools[i])));
      expect(after.pools.find((p) => p.id === 3)!.members.find((m) => m.address.endsWith('.9'))!.weight).toBe(5);
      expect(after.zones.get('z5.test')!.nodes.get('lb.z5.test')!.pool).toBe(receiver.pools.find((p) => p.id === 6));
      expect(after.zones.get('z5.test')).not.toBe(receiver.zones.get('z5.test'));
    }
    // A receiver that does not hold them refuses the image (and is sent a complete one).
    await expect(adoptImage(next.image, EMPTY_SNAPSHOT)).rejects.toThrow(/patches zone z0.test, which the serving snapshot does not hold/);
    const fresh = await adoptImage((await thread.complete()).image, EMPTY_SNAPSHOT);
    for (const [name, t] of questions(12)) expect(reply(fresh, name, t), `${name} ${t}`).toBe(reply(direct, name, t));

    // A record at a pool's name: the node is sent and points at the pool, lent (listed without its members).
    const third: StoreContents = { ...second, version: 3, records: [...second.records, { id: 95_000, zoneId: 6, name: 'lb.z5.test', type: 'TXT', ttl: null, content: '"pool"' }] };
    const withTxt = await thread.full(third);
    expect(sentPools(withTxt.image)).toEqual([6]);
    expect(sentNodes(withTxt.image).names).toEqual(['lb.z5.test']);
    const serving = await adoptImage(next.image, adopted);
    const after3 = await adoptImage(withTxt.image, serving);
    const lb = after3.zones.get('z5.test')!.nodes.get('lb.z5.test')!;
    expect(lb.pool).toBe(serving.pools.find((p) => p.id === 6));
    expect(lb.rrsets.has(16)).toBe(true);
    after3.pools.forEach((p, i) => expect(p).toBe(serving.pools[i]));
    const direct3 = buildSnapshot(third).snapshot;
    for (const [name, t] of [...questions(12), ['lb.z5.test', 16]] as [string, number][]) expect(reply(after3, name, t), `${name} ${t}`).toBe(reply(direct3, name, t));
    // A receiver that lacks the pool refuses the image at once.
    await expect(adoptImage(withTxt.image, EMPTY_SNAPSHOT)).rejects.toThrow(/lends pool 6/);
  });

  it('hands a starting DNS worker the first load itself, and a new complete image only once a reload lent zones', async () => {
    let loads: { loaded: SnapshotImage }[] = [];
    let version = 1;
    const reloader = new Reloader({
      load: async () => (version === 1 ? contents(1, 6, 20) : { ...contents(version, 6, 20), zones: contents(version, 6, 20).zones.map((z) => (z.name === 'z2.test' ? { ...z, serial: version } : z)) }),
      debounceMs: 5,
      log: createLogger('silent'),
      metrics: createMetrics({ defaultMetrics: false }),
      onLoaded: (l) => loads.push({ loaded: l.image }),
    });
    reloaders.push(reloader);
    await reloader.reload();
    // Every zone was built for the first load: that image is the complete one, not built again.
    expect(await reloader.completeImage()).toBe(loads[0].loaded);
    version = 2;
    loads = [];
    await reloader.reload();
    expect(loads[0].loaded.chunks.length).toBeGreaterThan(0);
    // The reload held z2 only; a worker with nothing needs every zone, built for it.
    const complete = await reloader.completeImage();
    expect(complete).not.toBe(loads[0].loaded);
    expect(complete.version).toBe(2);
    const adopted = await adoptImage(complete, EMPTY_SNAPSHOT);
    expect(adopted.zones.size).toBe(6);
    for (const [name, t] of questions(6)) expect(reply(adopted, name, t), `${name} ${t}`).toBe(reply(reloader.current(), name, t));
  });

  it('takes the first load started by prefetch(), read once, and the next reload sees what changed meanwhile', async () => {
    let reads = 0;
    let version = 1;
    const reloader = new Reloader({
      load: async () => {
        reads++;
        return contents(version, 4, 10, version);
      },
      debounceMs: 5,
      log: createLogger('silent'),
      metrics: createMetrics({ defaultMetrics: false }),
    });
    reloaders.push(reloader);
    reloader.prefetch();
    reloader.prefetch();
    expect(reloader.loaded).toBe(false);
    await new Promise((r) => setTimeout(r, 50));
    // Read, not yet served: the swap waits for reload() (main.ts: after the vote agreement has started).
    expect([reads, reloader.current().zones.size]).toEqual([1, 0]);
    version = 2;
    await reloader.reload();
    expect([reads, reloader.current().version, reloader.current().zones.size]).toEqual([1, 1, 4]);
    await reloader.reload();
    expect([reads, reloader.current().version]).toEqual([2, 2]);
  });

  it('keeps the old snapshot serving when a reload throws (in the build thread, or reading the store)', async () => {
    const logs: { msg: string }[] = [];
    const log = createLogger('info', { write: (line: string) => void logs.push(JSON.parse(line)) } as never);
    const metrics = createMetrics({ defaultMetrics: false });
    let next: () => StoreContents = () => contents(1, 3, 10);
    const reloader = new Reloader({ load: async () => next(), debounceMs: 5, log, metrics });
    reloaders.push(reloader);
    await reloader.reload();
    const good = reloader.current();
    expect(good.zones.size).toBe(3);
    // Rows the builder cannot even iterate: the build throws on the build thread.
    next = () => ({ version: 2, zones: contents(2, 3, 10).zones, records: [{ id: 1, zoneId: 1, name: null as never, type: 'A', ttl: null, content: '192.0.2.1' }] });
    await expect(reloader.reload()).rejects.toThrow();
    expect(reloader.current()).toBe(good);
    next = () => {
      throw new Error('store gone');
    };
    await expect(reloader.reload()).rejects.toThrow('store gone');
    expect(reloader.current()).toBe(good);
    expect(reply(reloader.current(), 'h1.z1.test', 1)).toBe(reply(good, 'h1.z1.test', 1));
    const errors = (await metrics.registry.getSingleMetric('lbdns_snapshot_reloads_total')!.get()).values.find((v) => v.labels.result === 'error');
    expect(errors?.value).toBe(2);
    expect(logs.filter((l) => l.msg === 'snapshot reload failed; still serving the previous one')).toHaveLength(2);
    // And the next good reload is complete again (nothing lent from an image that was never adopted).
    next = () => contents(3, 3, 10, 7);
    await reloader.reload();
    expect(reloader.current().version).toBe(3);
    expect(reloader.current().zones.get('z0.test')!.serial).toBe(7);
  });

  it('answers every query of a running loop while a full reload of every zone runs', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    let version = 1;
    const reloader = new Reloader({ load: async () => contents(version, 40, 500, version), debounceMs: 5, log: createLogger('silent'), metrics });
    reloaders.push(reloader);
    await reloader.reload();
    let answered = 0;
    let wrong = 0;
    let worstGapMs = 0;
    let running = true;
    let last = performance.now();
    const loop = (): void => {
      const now = performance.now();
      worstGapMs = Math.max(worstGapMs, now - last);
      last = now;
      const r = decodeReply(respond(reloader.current(), buildQuery({ name: `h${answered % 500}.z${answered % 40}.test`, edns: {} }), '127.0.0.1', false, ctx).reply!);
      if (r.rcode !== 0 || r.answers.length !== 1) wrong++;
      answered++;
      if (running) setImmediate(loop);
    };
    setImmediate(loop);
    for (version = 2; version <= 3; version++) await reloader.reload();
    running = false;
    expect(reloader.current().zones.get('z5.test')!.serial).toBe(3);
    expect(wrong).toBe(0);
    expect(answered).toBeGreaterThan(100);
    // Generous: a build on the answering thread stalls this loop for the whole build (hundreds of ms at this size).
    expect(worstGapMs).toBeLessThan(1000);
  });
});
