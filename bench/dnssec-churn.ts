// The signature cache churned: respond() with DO over N distinct RRsets, in-process, and the longest gap between answers.
//   npx tsx bench/dnssec-churn.ts [--rrsets N] [--cache-mb N] [--algorithm 13|15] [--hot-every N] [--warm-up N] [--json]
// (`npm run bench` runs it bundled as the server is (bench/lib/bundle.ts), pinned to the server's core, once per run
// and cache size.)
//
// What churns: a signed zone asked for N distinct names that do not exist, the way a random-subdomain flood asks.
// Each answer is compact denial (docs/dnssec.md): an NSEC at the asked name, so each one is an RRset of its own that
// is signed on a miss and pushes the least recently used signature out of a full cache. Every --hot-every'th query
// is a hot one instead (a static name of 1,000, or the wrr pool, in turn), whose signatures must stay cached.
//
// A gap is the time from one answer's reply bytes to the next one's. Answering runs in batches of BATCH queries with
// an event loop turn (setImmediate) between them, as a server reads datagrams in batches, so that work V8 posts as
// tasks (incremental marking steps, finalisation) and the GC observer run between answers and count in a gap.
// Garbage collection pauses are also reported on their own, from perf_hooks' 'gc' entries, and after the run a loop
// that only reads the clock measures the machine's own gaps for as long (clockLoop).
// The first --warm-up answers (distinct names of their own, hot ones between, as measured) are not measured: they
// stand for a server that has answered for a while before a flood starts. Without them the worst gap of a run was
// often the collection of the start-up's own garbage (building the zone, loading modules: a 10 ms mark-compact
// within the first 5,000 answers), which a server has behind it before it opens its sockets.
// On a shared machine a gap also holds time in which other processes had the CPU (or a thread this one waited for
// did not get one): so beside each gap the CPU time the whole process used in it (process.cpuUsage: every thread,
// GC helpers included) is recorded, and the worst of those is what answering itself costs at most on a quiet core.
// The main thread's total run-queue wait (/proc/thread-self/schedstat) says how busy the machine was.
// The server's own context (createAnswerContext: keyring, chooser, signature cache of LBDNS_DNSSEC_CACHE_MB) and a
// snapshot adopted from an image, as the server answers from.
import { openSync, readSync } from 'node:fs';
import { PerformanceObserver, constants, type PerformanceEntry } from 'node:perf_hooks';
import { setImmediate as turn } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { createAnswerContext } from '../src/answer-context.js';
import { loadConfig } from '../src/config.js';
import { respond } from '../src/core/respond.js';
import { EMPTY_SNAPSHOT, type Snapshot } from '../src/core/snapshot.js';
import { dnskeyRdata, encryptPrivateKey, generateKey, isDnssecAlgorithm, keyTag } from '../src/dnssec/keys.js';
import { freezeView } from '../src/health/health-view.js';
import { createLogger } from '../src/obs/log.js';
import { createMetrics } from '../src/obs/metrics.js';
import { lowerHelperThreads, tuneHeapForServing } from '../src/serving-heap.js';
import { buildSnapshot } from '../src/snapshot/build.js';
import { adoptImage, encodeImage } from '../src/snapshot/image.js';
import type { DnssecKeyRow, PoolMemberRow, PoolRow, RecordRow, ZoneRow } from '../src/store/rows.js';
import { buildQuery } from '../test/helpers/wire.js';

// The heap settings and thread priorities of `lbdns serve` (src/serving-heap.ts): this stands in for its answering.
tuneHeapForServing();
lowerHelperThreads();

function usage(message: string): never {
  console.error(`dnssec-churn: ${message}`);
  console.error('usage: npx tsx bench/dnssec-churn.ts [--rrsets N] [--cache-mb N] [--algorithm 13|15] [--hot-every N] [--warm-up N] [--json]');
  process.exit(2);
}

const { values } = (() => {
  try {
    return parseArgs({
      options: {
        rrsets: { type: 'string', default: '1000000' },
        'cache-mb': { type: 'string', default: '8' },
        algorithm: { type: 'string', default: '13' },
        'hot-every': { type: 'string', default: '4' },
        'warm-up': { type: 'string', default: '50000' },
        json: { type: 'boolean', default: false },
      },
    });
  } catch (err) {
    return usage((err as Error).message);
  }
})();
const whole = (name: string, v: string | undefined, min: number, max: number): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) usage(`--${name} must be a whole number in ${min}..${max}, not "${v}"`);
  return n;
};
// Distinct names are r0000000 … r8999999; the warm-up's are r9000000 and up.
const WARM_FROM = 9_000_000;
const RRSETS = whole('rrsets', values.rrsets, 1, WARM_FROM - 1);
const WARM_UP = whole('warm-up', values['warm-up'], 0, 999_999);
const CACHE_MB = whole('cache-mb', values['cache-mb'], 1, 4096);
const HOT_EVERY = whole('hot-every', values['hot-every'], 2, 1000);
const ALGORITHM = whole('algorithm', values.algorithm, 13, 15);
if (!isDnssecAlgorithm(ALGORITHM)) usage('--algorithm must be 13 or 15');
const BATCH = 64;
const ZONE = 'signed.test';

// The zone: as bench.test in `npm run bench` (1,000 static names, a wrr pool of 8 members, count 2), signed.
const zone: ZoneRow = { id: 1, name: ZONE, mname: `ns1.${ZONE}`, rname: `h.${ZONE}`, serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum: 300, ttl: 300 };
const records: RecordRow[] = Array.from({ length: 1000 }, (_, i) => ({ id: i + 1, zoneId: 1, name: `host${i}.${ZONE}`, type: 'A', ttl: null, content: `192.0.2.${(i % 254) + 1}` }));
const pool: PoolRow = {
  id: 1, zoneId: 1, name: `lb.${ZONE}`, policy: 'wrr', ttl: 30, count: 2, allDown: 'open', checkKind: 'tcp', checkPort: 80, checkPath: '/', checkHost: null,
  expectStatusMin: 200, expectStatusMax: 399, checkInsecure: false, timeoutMs: 500, intervalMs: 1000, rise: 1, fall: 1,
};
const members: PoolMemberRow[] = Array.from({ length: 8 }, (_, i) => ({
  id: i + 1, poolId: 1, address: `198.51.100.${i + 1}`, probeAddress: null, weight: i + 1, priority: 0, enabled: true,
  country: null, continent: null, region: null, latitude: null, longitude: null,
}));
const SECRET = 'dnssec-churn-bench-secret';
const key = generateKey(ALGORITHM);
const dnskey = dnskeyRdata(257, ALGORITHM, key.publicKey);
const dnssecKeys: DnssecKeyRow[] = [{ zoneId: 1, algorithm: ALGORITHM, flags: 257, keyTag: keyTag(dnskey), publicKey: key.publicKey, privateKey: encryptPrivateKey(key.privateKeyDer, SECRET) }];
const built = buildSnapshot({ version: 1, zones: [zone], records, pools: [pool], members, geoNetworks: [], dnssecKeys }).snapshot;
const snapshot: Snapshot = await adoptImage(encodeImage(built, [[ZONE, '']], []), EMPTY_SNAPSHOT);

const config = loadConfig({ LBDNS_NODE_NAME: 'bench', LBDNS_KEY_SECRET: SECRET, LBDNS_DNSSEC_CACHE_MB: String(CACHE_MB) });
const metrics = createMetrics({ defaultMetrics: false });
const health = freezeView(new Map(members.map((m) => [m.id, true] as [number, boolean])));
const { context, keyring } = createAnswerContext(config, metrics, () => health, createLogger('silent'), {});
keyring.warm(snapshot);

const edns = { udpSize: 1232, dnssecOk: true };
const hot = [...records.map((r) => buildQuery({ name: r.name, edns })), buildQuery({ name: pool.name, edns })];
// One query packet for the distinct names, its 7 digits rewritten in place: r0000000.signed.test, r0000001…
const DIGITS = 7;
const distinct = buildQuery({ name: `r${'0'.repeat(DIGITS)}.${ZONE}`, edns });
const DIGIT_AT = 12 + 1 + 1;
function setDistinct(n: number): void {
  for (let d = DIGITS - 1; d >= 0; d--, n = Math.floor(n / 10)) distinct[DIGIT_AT + d] = 48 + (n % 10);
}

// Sanity: a distinct name is answered with an NSEC and its RRSIG, a hot one with RRSIGs; otherwise nothing churns.
{
  setDistinct(RRSETS);
  const nx = respond(snapshot, distinct, '127.0.0.1', false, context).answer;
  const sigs = (a: typeof nx) => [...(a?.answer ?? []), ...(a?.authority ?? [])].filter((r) => r.type === 46).length;
  if (!nx?.authority.some((r) => r.type === 47) || sigs(nx) === 0) throw new Error('a distinct name was not answered with a signed NSEC: nothing would churn');
  const h = respond(snapshot, hot[0], '127.0.0.1', false, context).answer;
  if (sigs(h) === 0) throw new Error('a hot name was answered unsigned');
}

// Milliseconds this thread has waited on a run queue so far (the second field of schedstat); NaN where unreadable.
const schedFd = (() => {
  try {
    return openSync('/proc/thread-self/schedstat', 'r');
  } catch {
    return -1;
  }
})();
const schedBuf = Buffer.alloc(128);
function waitedMs(): number {
  if (schedFd < 0) return NaN;
  const n = readSync(schedFd, schedBuf, 0, schedBuf.length, 0);
  return Number(schedBuf.toString('latin1', 0, n).split(' ')[1]) / 1e6;
}

const counter = async (name: string): Promise<{ labels: Record<string, string | number>; value: number }[]> =>
  ((await metrics.registry.getSingleMetric(name)?.get())?.values ?? []) as { labels: Record<string, string | number>; value: number }[];
const signatureCounts = async (): Promise<{ misses: number; hits: number }> => {
  const signatures = await counter('lbdns_dnssec_signatures_total');
  return { misses: signatures.find((v) => v.labels.cache === 'miss')?.value ?? 0, hits: signatures.find((v) => v.labels.cache === 'hit')?.value ?? 0 };
};
// The cache's counters reach the metrics once a second (answer-context.ts).
const flushed = (): Promise<unknown> => new Promise((r) => setTimeout(r, 1100));

for (let i = 0; i < WARM_UP; ) {
  const end = Math.min(WARM_UP, i + BATCH);
  for (; i < end; i++) {
    let packet = hot[i % hot.length];
    if (i % HOT_EVERY !== HOT_EVERY - 1) {
      setDistinct(WARM_FROM + i);
      packet = distinct;
    }
    if (respond(snapshot, packet, '127.0.0.1', false, context).reply === undefined) throw new Error(`warm-up query ${i} got no reply`);
  }
  await turn();
}
await flushed();
const warmUpCounts = await signatureCounts();

// As the server does once it listens: threads started since (libuv's pool) at nice 19 too.
lowerHelperThreads();

const gcPauses: { kind: number; ms: number; start: number }[] = [];
const observer = new PerformanceObserver((list) => {
  for (const e of list.getEntries() as (PerformanceEntry & { detail?: { kind?: number } })[]) gcPauses.push({ kind: e.detail?.kind ?? 0, ms: e.duration, start: e.startTime });
});
observer.observe({ entryTypes: ['gc'] });

const total = RRSETS + Math.floor(RRSETS / (HOT_EVERY - 1));
const gaps = new Float64Array(total);
// When each answer was done (performance.now()), to lay the longest gaps beside the GC pauses.
const ends = new Float64Array(total);
const cpuGaps = new Float64Array(total);
let worst = { ms: 0, cpuMs: 0, index: -1, hot: false };
let worstCpu = { ms: 0, wallMs: 0, index: -1, hot: false };
const cpuMs = (): number => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
};
let distinctSent = 0;
let hotSent = 0;
const started = performance.now();
const firstWaited = waitedMs();
const firstCpu = cpuMs();
let last = performance.now();
let lastCpu = cpuMs();
for (let i = 0; i < total; ) {
  const end = Math.min(total, i + BATCH);
  for (; i < end; i++) {
    const isHot = i % HOT_EVERY === HOT_EVERY - 1 || distinctSent === RRSETS;
    let packet: Uint8Array;
    if (isHot) packet = hot[hotSent++ % hot.length];
    else {
      setDistinct(distinctSent++);
      packet = distinct;
    }
    const out = respond(snapshot, packet, '127.0.0.1', false, context);
    if (out.reply === undefined) throw new Error(`query ${i} got no reply`);
    const now = performance.now();
    const cpu = cpuMs();
    const gap = now - last;
    gaps[i] = gap;
    ends[i] = now;
    cpuGaps[i] = cpu - lastCpu;
    if (gap > worst.ms) worst = { ms: gap, cpuMs: cpu - lastCpu, index: i, hot: isHot };
    if (cpu - lastCpu > worstCpu.ms) worstCpu = { ms: cpu - lastCpu, wallMs: gap, index: i, hot: isHot };
    last = now;
    lastCpu = cpu;
  }
  await turn();
}
const seconds = (performance.now() - started) / 1000;
await flushed();
observer.disconnect();

const counts = await signatureCounts();
const misses = counts.misses - warmUpCounts.misses;
const hits = counts.hits - warmUpCounts.hits;
const cacheBytes = (await counter('lbdns_dnssec_cache_bytes'))[0]?.value ?? 0;

const pctOf = (s: Float64Array, p: number): number => s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
const sorted = Float64Array.from(gaps).sort();
const sortedCpu = Float64Array.from(cpuGaps).sort();
const pct = (p: number): number => pctOf(sorted, p);
const gcOf = (kind: number) => gcPauses.filter((g) => g.kind === kind);
const gcSummary = (kind: number) => {
  const g = gcOf(kind);
  return { count: g.length, maxMs: g.length ? Math.max(...g.map((x) => x.ms)) : 0, totalMs: g.reduce((s, x) => s + x.ms, 0) };
};
// The ten longest gaps, each with the GC pauses that fell in it (kind: 1 minor, 4 major, 8 incremental, 16 weak callbacks).
const KIND = (k: number): string => ({ 1: 'minor', 4: 'major', 8: 'incremental', 16: 'weak callbacks' })[k] ?? String(k);
const longest = Array.from(gaps.keys()).sort((a, b) => gaps[b] - gaps[a]).slice(0, 10).map((i) => {
  const from = ends[i] - gaps[i];
  const gc = gcPauses.filter((g) => g.start < ends[i] && g.start + g.ms > from);
  return { answer: i, ms: gaps[i], cpuMs: cpuGaps[i], gc: gc.map((g) => `${KIND(g.kind)} ${g.ms.toFixed(2)} ms`), gcMs: gc.reduce((t, g) => t + g.ms, 0) };
});
/**
 * The peer: a loop on this thread, pinned alike, that only reads the clock for as long as the answering ran (at most
 * 60 s). It allocates nothing and calls nothing, so every gap in it is the machine's: a virtual CPU the host took
 * away, an interrupt, another process. Such gaps count as this process's CPU (the guest cannot tell), so the worst
 * gap of the answering is read beside this one: what answering adds is the difference.
 */
function clockLoop(ms: number): { seconds: number; worstGapMs: number; gapsOver1Ms: number; gapsOver5Ms: number } {
  const from = performance.now();
  const until = from + ms;
  let lastRead = from;
  let worstGap = 0;
  let over1 = 0;
  let over5 = 0;
  for (;;) {
    const now = performance.now();
    const gap = now - lastRead;
    if (gap > worstGap) worstGap = gap;
    if (gap > 1) over1++;
    if (gap > 5) over5++;
    lastRead = now;
    if (now >= until) break;
  }
  return { seconds: (lastRead - from) / 1000, worstGapMs: worstGap, gapsOver1Ms: over1, gapsOver5Ms: over5 };
}
const machine = clockLoop(Math.min(60_000, seconds * 1000));

const result = {
  design: 'in-process: respond() with DO over distinct names of a signed zone (one new NSEC RRset each), hot names between',
  rrsets: RRSETS,
  answers: total,
  hotEvery: HOT_EVERY,
  warmUp: WARM_UP,
  cacheMb: CACHE_MB,
  algorithm: ALGORITHM,
  seconds,
  answersPerSecond: total / seconds,
  signatures: { misses, hits },
  cacheBytesAtEnd: cacheBytes,
  worstGapMs: worst.ms,
  worstGapAt: { answer: worst.index, hot: worst.hot, processCpuMs: worst.cpuMs },
  worstCpuInGapMs: worstCpu.ms,
  worstCpuInGapAt: { answer: worstCpu.index, hot: worstCpu.hot, wallMs: worstCpu.wallMs },
  cpuInGapP9999Ms: pctOf(sortedCpu, 99.99),
  cpuInGapsOver10Ms: sortedCpu.filter((g) => g > 10).length,
  processCpuSeconds: (lastCpu - firstCpu) / 1000,
  runQueueWaitSeconds: (waitedMs() - firstWaited) / 1000,
  gapP50Ms: pct(50),
  gapP99Ms: pct(99),
  gapP999Ms: pct(99.9),
  gapP9999Ms: pct(99.99),
  gapsOver1Ms: sorted.filter((g) => g > 1).length,
  gapsOver10Ms: sorted.filter((g) => g > 10).length,
  gc: {
    minor: gcSummary(constants.NODE_PERFORMANCE_GC_MINOR),
    major: gcSummary(constants.NODE_PERFORMANCE_GC_MAJOR),
    incremental: gcSummary(constants.NODE_PERFORMANCE_GC_INCREMENTAL),
    weakCallbacks: gcSummary(constants.NODE_PERFORMANCE_GC_WEAKCB),
    maxPauseMs: gcPauses.length ? Math.max(...gcPauses.map((g) => g.ms)) : 0,
  },
  longestGaps: longest,
  machine,
  heapUsedMbAtEnd: process.memoryUsage().heapUsed / 2 ** 20,
  rssMbAtEnd: process.memoryUsage().rss / 2 ** 20,
};
if (misses < RRSETS) throw new Error(`only ${misses} signatures were made for ${RRSETS} distinct RRsets: the cache was not churned`);
if (values.json) console.log(JSON.stringify(result));
else {
  const f = (x: number, d = 3) => x.toFixed(d);
  console.log(`${total.toLocaleString('en-US')} answers (${RRSETS.toLocaleString('en-US')} distinct RRsets, every ${HOT_EVERY}th query a hot name; after ${WARM_UP.toLocaleString('en-US')} unmeasured), cache ${CACHE_MB} MiB, algorithm ${ALGORITHM}: ${f(seconds, 1)} s, ${Math.round(result.answersPerSecond).toLocaleString('en-US')} answers/s`);
  console.log(`signatures: ${misses.toLocaleString('en-US')} made, ${hits.toLocaleString('en-US')} from the cache; cache ${f(cacheBytes / 2 ** 20, 1)} MiB at the end`);
  console.log(`gap between answers: worst ${f(worst.ms)} ms (answer ${worst.index}, ${worst.hot ? 'hot' : 'distinct'}, the process used ${f(worst.cpuMs)} ms of CPU in it), p50 ${f(pct(50))} ms, p99 ${f(pct(99))}, p99.9 ${f(pct(99.9))}, p99.99 ${f(pct(99.99))}; ${result.gapsOver1Ms} over 1 ms, ${result.gapsOver10Ms} over 10 ms`);
  console.log(`CPU the process used within a gap: worst ${f(worstCpu.ms)} ms (answer ${worstCpu.index}, a gap of ${f(worstCpu.wallMs)} ms), p99.99 ${f(result.cpuInGapP9999Ms)} ms; ${result.cpuInGapsOver10Ms} over 10 ms`);
  console.log(`machine: the answering thread waited ${f(result.runQueueWaitSeconds, 1)} s for a CPU in ${f(seconds, 1)} s (other processes)`);
  const g = result.gc;
  console.log(`GC: ${g.minor.count} minor (max ${f(g.minor.maxMs)} ms), ${g.major.count} major (max ${f(g.major.maxMs)} ms), ${g.incremental.count} incremental (max ${f(g.incremental.maxMs)} ms); heap ${f(result.heapUsedMbAtEnd, 0)} MB, RSS ${f(result.rssMbAtEnd, 0)} MB`);
  console.log(`longest gaps: ${longest.map((l) => `${f(l.ms, 1)} ms (GC in it: ${l.gc.length ? l.gc.join(' + ') : 'none'})`).join('; ')}`);
  console.log(`the machine (a loop that only reads the clock, same thread, ${f(machine.seconds, 1)} s): worst gap ${f(machine.worstGapMs)} ms; ${machine.gapsOver1Ms} over 1 ms, ${machine.gapsOver5Ms} over 5 ms`);
  console.log(`target ≤ 10 ms: worst gap ${worst.ms <= 10 ? 'met' : 'MISSED'}; CPU within a gap ${worstCpu.ms <= 10 ? 'met' : 'MISSED'}`);
}
process.exit(0);
