// V8 settings and thread priorities for a process that answers DNS (lbdns serve, its DNS workers).
import { readdirSync } from 'node:fs';
import { setPriority } from 'node:os';
import v8 from 'node:v8';

/**
 * Turns off V8's allocation-site pretenuring. V8 watches which allocation sites make objects that survive young
 * collections and, past a threshold, allocates everything those sites make straight into the old generation. At
 * start-up lbdns has long-lived allocations at sites that later make only short-lived objects: the first probe round
 * keeps ~512 HTTP probes in flight for up to a timeout each, and the vote agreement's first full decision ran across
 * many event-loop turns. Those sites were then pretenured for the life of the process, so every later probe and
 * decision left old-generation garbage pointing into the young generation, and each scavenge of the answering thread
 * had to walk and copy far more than it would have: at 100,000 records and 80,000 members (`npm run bench --
 * --scale`) an idle server's scavenges took 18-39 ms with pretenuring and 8-13 ms without it, and the reload
 * phases' p99 fell (docs/performance.md). The cost is where objects do live long: under a flood of distinct signed names
 * node:crypto's per-signature objects were pretenured and then cost the scavenges nothing; without pretenuring
 * `bench/dnssec-churn.ts` has scavenges of 8-11 ms instead of 5-6 (its worst gaps were over 10 ms either way).
 * Turning it back on once start-up is over was measured too: the reload phases were worse again in the second round
 * (every zone's SOA edited: 37 ms p99 against 3.7), so it stays off.
 *
 * A runtime setting rather than a node flag, so that it applies however lbdns is started (npm start, the Dockerfile,
 * the systemd unit, a bare `node bin/lbdns.js serve`); V8 reads it at every collection, so it takes effect from the
 * first one after this call. Worker threads share the process's flags.
 */
export function tuneHeapForServing(): void {
  v8.setFlagsFromString('--no-allocation-site-pretenuring');
}

/** The lowest CPU priority (nice 19) for one thread of this process, by its Linux thread id; false where not possible. */
export function lowerThread(tid: number): boolean {
  try {
    setPriority(tid, 19);
    return true;
  } catch {
    return false;
  }
}

/**
 * Lowers every thread of this process but the main one (the one that answers DNS) to nice 19, on Linux (elsewhere
 * nothing; a nice value is per thread there, set through the thread id). Those threads are V8's platform workers,
 * which run the parallel and concurrent parts of every isolate's garbage collection, the build thread's included
 * (src/snapshot/build-worker.ts, which lowers itself), and libuv's pool. The build thread's own work ran at nice 19
 * already, but the collections of what it allocates (hundreds of MB for a reload of a record in every zone at
 * --scale) ran on the platform workers at the process's priority: ~3 s of CPU in such a reload phase of the
 * benchmark, taken from the answering thread on a busy core (answer p99 13.7 ms; with them at nice 19, 4.6-4.8 ms:
 * docs/performance.md). The answering thread's own collections use these threads too; where a core is free they
 * run at once whatever their nice value, and on a busy one the answering thread's work comes first, which is the point.
 * Threads made later by a lowered thread inherit its value; the libuv pool, started on first use, is lowered by the
 * second call, once the server listens. Returns how many threads were lowered.
 */
export function lowerHelperThreads(): number {
  let tids: string[];
  try {
    tids = readdirSync('/proc/self/task');
  } catch {
    return 0;
  }
  let lowered = 0;
  for (const tid of tids) {
    const id = Number(tid);
    if (id !== process.pid && Number.isInteger(id) && lowerThread(id)) lowered++;
  }
  return lowered;
}
