// V8 settings for a process that answers DNS (lbdns serve, its DNS workers), set once before it loads anything.
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
