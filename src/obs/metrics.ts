// Every metric lbdns exports, in one place: lbdns_<subsystem>_<name>_<unit>, bounded labels only.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { typeName } from '../core/constants.js';
import { MemberGauge } from './member-gauge.js';

const KNOWN_QTYPES = new Set(['A', 'NS', 'CNAME', 'SOA', 'PTR', 'MX', 'TXT', 'AAAA', 'SRV', 'DS', 'ANY', 'CAA', 'AXFR', 'IXFR', 'HINFO']);
const RCODES: Record<number, string> = { 0: 'NOERROR', 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED', 16: 'BADVERS' };

export function qtypeLabel(qtype: number | undefined): string {
  if (qtype === undefined) return 'NONE';
  const name = typeName(qtype);
  return KNOWN_QTYPES.has(name) ? name : 'OTHER';
}

export function rcodeLabel(rcode: number): string {
  return RCODES[rcode] ?? 'OTHER';
}

// Gauges marked aggregator 'max' are set by the primary process only; with DNS workers, /metrics merges
// every process (prom-client's AggregatorRegistry): counters add up, these take the primary's value.
export function createMetrics(options: { defaultMetrics?: boolean } = {}) {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'lbdns_' });
  const queries = new Counter({
    name: 'lbdns_dns_queries_total',
    help: 'DNS queries answered, by question type, response code and transport',
    labelNames: ['qtype', 'rcode', 'transport'] as const,
    registers: [registry],
  });
  const dropped = new Counter({
    name: 'lbdns_dns_dropped_total',
    help: 'Packets dropped without a reply (unreadable header, or a response sent to us)',
    labelNames: ['transport'] as const,
    registers: [registry],
  });
  const malformed = new Counter({
    name: 'lbdns_dns_malformed_total',
    help: 'Malformed queries answered with FORMERR',
    labelNames: ['transport'] as const,
    registers: [registry],
  });
  const internalErrors = new Counter({
    name: 'lbdns_dns_internal_errors_total',
    help: 'Queries that hit an unexpected error and were answered SERVFAIL',
    registers: [registry],
  });
  const truncated = new Counter({
    name: 'lbdns_dns_truncated_total',
    help: 'UDP replies sent with TC set because the answer exceeded the client limit',
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'lbdns_dns_answer_duration_seconds',
    help: 'Time from packet arrival to reply handed to the socket (one query in 16 is timed)',
    labelNames: ['transport'] as const,
    buckets: [0.00001, 0.00002, 0.00005, 0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05],
    registers: [registry],
  });
  const rrlLimited = new Counter({
    name: 'lbdns_rrl_limited_total',
    help: 'UDP responses held back by response rate limiting: dropped, or sent truncated (slip)',
    labelNames: ['action'] as const,
    registers: [registry],
  });
  const tcpRejected = new Counter({
    name: 'lbdns_dns_tcp_rejected_total',
    help: 'TCP connections closed at once because a connection limit was reached',
    labelNames: ['limit'] as const,
    registers: [registry],
  });
  const tcpClosed = new Counter({
    name: 'lbdns_dns_tcp_closed_total',
    help: 'TCP connections closed by lbdns, by reason (idle, buffer, queries)',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const tcpConnections = new Gauge({ name: 'lbdns_dns_tcp_connections', help: 'Open TCP connections', registers: [registry] });
  const snapshotVersion = new Gauge({ name: 'lbdns_snapshot_version', help: 'Store config version the serving snapshot was read at', aggregator: 'max', registers: [registry] });
  const snapshotZones = new Gauge({ name: 'lbdns_snapshot_zones', help: 'Zones in the serving snapshot', aggregator: 'max', registers: [registry] });
  const snapshotBuiltAt = new Gauge({ name: 'lbdns_snapshot_built_timestamp_seconds', help: 'When the serving snapshot was built (Unix time)', aggregator: 'max', registers: [registry] });
  let builtAtMs = 0;
  const snapshotAge = new Gauge({
    name: 'lbdns_snapshot_age_seconds',
    help: 'Seconds since the serving snapshot was built',
    aggregator: 'max', registers: [registry],
    collect() {
      this.set(builtAtMs ? (Date.now() - builtAtMs) / 1000 : 0);
    },
  });
  function snapshotSwapped(ms: number): void {
    builtAtMs = ms;
    snapshotBuiltAt.set(ms / 1000);
  }
  const zoneSerial = new Gauge({ name: 'lbdns_zone_serial', help: 'SOA serial served, per zone', labelNames: ['zone'] as const, aggregator: 'max', registers: [registry] });
  const reloads = new Counter({ name: 'lbdns_snapshot_reloads_total', help: 'Snapshot reloads, by result', labelNames: ['result'] as const, registers: [registry] });
  const reloadDuration = new Histogram({
    name: 'lbdns_snapshot_reload_duration_seconds',
    help: 'Time to read the store and build a snapshot',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5],
    registers: [registry],
  });
  const adoptDuration = new Histogram({
    name: 'lbdns_snapshot_adopt_duration_seconds',
    help: 'Wall time from a built snapshot image to the swap, adopted a chunk per event-loop turn (answers run between chunks)',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2],
    registers: [registry],
  });
  const snapshotFileErrors = new Counter({ name: 'lbdns_snapshot_file_write_errors_total', help: 'Snapshot file writes that failed (the node keeps serving)', registers: [registry] });
  const storeReachable = new Gauge({ name: 'lbdns_store_reachable', help: '1 while the store answers, 0 while this node serves its last good snapshot without it', aggregator: 'max', registers: [registry] });
  const propagationMode = new Gauge({
    name: 'lbdns_propagation_mode',
    help: 'How this node learns of edits: 1 for the mode in use (listen = NOTIFY push, poll = config version polling)',
    labelNames: ['mode'] as const,
    aggregator: 'max', registers: [registry],
  });
  const feedHeartbeatFailures = new Counter({
    name: 'lbdns_store_feed_heartbeat_failures_total',
    help: 'Heartbeats the LISTEN connection left unanswered past their deadline (each one switches to polling and reconnects)',
    registers: [registry],
  });
  const lastSync = new Gauge({ name: 'lbdns_store_last_sync_timestamp_seconds', help: 'When this node last read the store successfully (Unix time)', aggregator: 'max', registers: [registry] });
  const haRole = new Gauge({
    name: 'lbdns_ha_role',
    help: 'This node\'s role in a keepalived pair (LBDNS_ROLE_FILE): 1 for the current role',
    labelNames: ['role'] as const,
    aggregator: 'max',
    registers: [registry],
  });
  const skippedRows = new Counter({ name: 'lbdns_snapshot_skipped_rows_total', help: 'Store rows skipped because they could not be served', labelNames: ['table'] as const, registers: [registry] });

  // Children bound once: no label lookup by string on the answer path.
  const queryChildren = new Map<number, { inc(): void }>();
  function countQuery(qtype: number | undefined, rcode: number, transport: 'udp' | 'tcp'): void {
    const key = ((qtype ?? 65536) * 4096 + rcode) * 2 + (transport === 'tcp' ? 1 : 0);
    let child = queryChildren.get(key);
    if (!child) queryChildren.set(key, (child = queries.labels(qtypeLabel(qtype), rcodeLabel(rcode), transport)));
    child.inc();
  }
  const latencyUdp = latency.labels('udp');
  const latencyTcp = latency.labels('tcp');

  // Health-aware pools. Member labels are answered addresses: bounded by configuration, never by clients.
  const memberUp = new MemberGauge({
    name: 'lbdns_member_up',
    help: 'Whether this node sees a pool member up (1) or down (0) by its own probes; 1 before its first result',
    registry,
  });
  // Votes (src/health/agreement.ts): only for pools whose rule counts votes; lbdns_member_up stays this node's own view.
  const memberVote = new Gauge({
    name: 'lbdns_member_vote',
    help: 'A vantage point\'s fresh vote on a pool member as this node counts it: 1 up, 0 down (absent: no fresh vote)',
    labelNames: ['pool', 'member', 'vantage'] as const,
    aggregator: 'max', registers: [registry],
  });
  const memberAgreedUp = new MemberGauge({
    name: 'lbdns_member_agreed_up',
    help: 'The state answers use for a pool member, decided by its pool\'s quorum rule: 1 up, 0 down (absent: unknown)',
    registry,
  });
  const votesIgnored = new Gauge({
    name: 'lbdns_votes_ignored',
    help: 'Votes in the store this node does not count, by reason (unknown vantage point, retired, clock ahead)',
    labelNames: ['reason'] as const,
    aggregator: 'max', registers: [registry],
  });
  const vantagePointsLive = new Gauge({
    name: 'lbdns_vantage_points_live',
    help: 'Vantage points (this node included) whose votes count now, by kind',
    labelNames: ['kind'] as const,
    aggregator: 'max', registers: [registry],
  });
  const votesShared = new Gauge({
    name: 'lbdns_votes_shared',
    help: '1 while this node reads and writes votes through the store; 0 while it decides from its own probes alone',
    aggregator: 'max', registers: [registry],
  });
  const dnssecZoneSigned = new Gauge({
    name: 'lbdns_dnssec_zone_signed',
    help: 'Whether this node signs a zone that has a DNSSEC key: 1 signed, 0 served unsigned (no or wrong LBDNS_KEY_SECRET, corrupt key)',
    labelNames: ['zone'] as const,
    aggregator: 'min', registers: [registry],
  });
  const dnssecSignatures = new Counter({
    name: 'lbdns_dnssec_signatures_total',
    help: 'RRSIGs put in answers, by whether the signature cache had them (hit) or they were made (miss)',
    labelNames: ['cache'] as const,
    registers: [registry],
  });
  const dnssecCacheBytes = new Gauge({
    name: 'lbdns_dnssec_cache_bytes',
    help: 'Bytes held by the RRSIG cache (its bound is LBDNS_DNSSEC_CACHE_MB per process)',
    aggregator: 'sum', registers: [registry],
  });
  const probeDuration = new Histogram({
    name: 'lbdns_health_probe_duration_seconds',
    help: 'Duration of health probes, good or failed, by probe kind',
    labelNames: ['kind'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const healthTransitions = new Counter({
    name: 'lbdns_health_transitions_total',
    help: 'Member state changes decided by rise/fall (the first result after start included), by pool and new state',
    labelNames: ['pool', 'to'] as const,
    registers: [registry],
  });
  const poolFailOpen = new Counter({
    name: 'lbdns_pool_fail_open_total',
    help: 'Pool answers given with every enabled member because none was up',
    labelNames: ['pool'] as const,
    registers: [registry],
  });
  const poolOverrides = new Gauge({
    name: 'lbdns_pool_overrides',
    help: 'Members with an override or an open maintenance window in force on this node, by pool, state (down, up, drain) and source (override, maintenance)',
    labelNames: ['pool', 'state', 'source'] as const,
    registers: [registry],
  });
  // Counted on the answer path into plain arrays (policies/choice-metrics.ts) and added here whenever the
  // metrics are read: a label lookup per answered member would cost more than choosing the members.
  const beforePoolAnswersRead = new Set<() => void>();
  const poolAnswers = new Counter({
    name: 'lbdns_pool_answers_total',
    help: 'Times a member was handed out in a pool answer (any position)',
    labelNames: ['pool', 'member'] as const,
    registers: [registry],
    collect() {
      for (const flush of beforePoolAnswersRead) flush();
    },
  });

  // GeoDNS. Levels are the fixed list region/country/continent/nearest/all; pools are bounded by configuration.
  const geoAnswers = new Counter({
    name: 'lbdns_geo_answers_total',
    help: 'Answers of geo pools, by pool and the level that picked the members (region, country, continent, nearest, all)',
    labelNames: ['pool', 'level'] as const,
    registers: [registry],
  });
  const geoLookupMisses = new Counter({
    name: 'lbdns_geo_lookup_misses_total',
    help: 'Geo pool queries whose client network neither geo_networks nor the GeoIP database could place (answered by weight)',
    registers: [registry],
  });
  // Zone transfers out (AXFR/IXFR), NOTIFY and the pool-set serial. Zones are bounded by configuration; kind and
  // result are fixed lists (kind axfr|ixfr; result ok|refused|badkey|badsig|badtime|formerr|notauth|error).
  const xfrRequests = new Counter({
    name: 'lbdns_xfr_requests_total',
    help: 'Zone transfer requests, by zone, kind (axfr, ixfr) and result (ok, refused, badkey, badsig, badtime, formerr, notauth, error)',
    labelNames: ['zone', 'kind', 'result'] as const,
    registers: [registry],
  });
  const xfrDuration = new Histogram({
    name: 'lbdns_xfr_duration_seconds',
    help: 'Time to send a whole zone transfer, by kind (axfr, ixfr, including an IXFR answered with the whole zone)',
    labelNames: ['kind'] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10],
    registers: [registry],
  });
  const notifySent = new Counter({
    name: 'lbdns_xfr_notify_total',
    help: 'NOTIFY messages to secondaries, by zone and result (acked, retried, failed: every try unanswered)',
    labelNames: ['zone', 'result'] as const,
    registers: [registry],
  });
  // RFC 2136 updates: zones bounded by configuration (an update naming a zone we do not have counts under ""); result
  // a fixed list (ok, refused, formerr, notzone, notauth, badkey, badsig, badtime, nxdomain, yxdomain, nxrrset, yxrrset,
  // error).
  const updateRequests = new Counter({
    name: 'lbdns_update_requests_total',
    help: 'RFC 2136 UPDATE requests, by zone and result (ok, refused, formerr, notzone, notauth, badkey, badsig, badtime, nxdomain, yxdomain, nxrrset, yxrrset, error)',
    labelNames: ['zone', 'result'] as const,
    registers: [registry],
  });
  const poolSerialBumps = new Counter({
    name: 'lbdns_xfr_pool_serial_bumps_total',
    help: 'Zone serials this node advanced because a pool\'s answerable set changed',
    labelNames: ['zone'] as const,
    registers: [registry],
  });

  return {
    registry,
    xfrRequests,
    xfrDuration,
    notifySent,
    poolSerialBumps,
    updateRequests,
    queries,
    countQuery,
    dropped,
    malformed,
    internalErrors,
    truncated,
    latency,
    latencyUdp,
    latencyTcp,
    tcpConnections,
    rrlLimited,
    tcpRejected,
    tcpClosed,
    snapshotVersion,
    snapshotZones,
    snapshotBuiltAt,
    snapshotAge,
    snapshotSwapped,
    zoneSerial,
    reloads,
    reloadDuration,
    adoptDuration,
    snapshotFileErrors,
    skippedRows,
    haRole,
    storeReachable,
    propagationMode,
    feedHeartbeatFailures,
    lastSync,
    memberUp,
    memberVote,
    memberAgreedUp,
    votesIgnored,
    vantagePointsLive,
    votesShared,
    dnssecZoneSigned,
    dnssecSignatures,
    dnssecCacheBytes,
    probeDuration,
    healthTransitions,
    poolFailOpen,
    poolOverrides,
    poolAnswers,
    beforePoolAnswersRead,
    geoAnswers,
    geoLookupMisses,
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
