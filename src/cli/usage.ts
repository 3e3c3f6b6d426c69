// Every CLI command's usage lines and summary: plain data, so `lbdns --help` answers without loading a command.
import { ALL_DOWN, CHECK_KINDS, QUORUM_RULES } from '../schema/pool-constants.js';
import { POLICY_NAMES } from '../policies/registry.js';

export interface Usage {
  /** One line per form, without the leading "lbdns ". */
  readonly usage: readonly string[];
  readonly summary: string;
}

const LOCATION = '[--country CC] [--continent EU] [--region LABEL] [--lat X --lon Y]';
const SETTINGS = `[--policy ${POLICY_NAMES.join('|')}] [--hash-prefix 24,56] [--ttl N] [--count N] [--all-down ${ALL_DOWN.join('|')}] [--check ${CHECK_KINDS.join('|')}] [--port N] [--path P] [--host H] [--expect 200-399] [--insecure] [--timeout MS] [--interval MS] [--rise N] [--fall N] [--quorum ${QUORUM_RULES.join('|')}] [--probers N|all]`;

/** What each command group is for. */
export const GROUP_SUMMARY: Readonly<Record<string, string>> = {
  zone: "manage zones",
  record: "manage records",
  pool: "manage load-balanced names",
  member: "manage a pool's members",
  geo: "manage networks located ahead of GeoIP",
  tsig: 'manage TSIG keys for zone transfers, NOTIFY and RFC 2136 updates',
  maintenance: "schedule windows that drain a pool member",
  vantage: 'see and retire the vantage points (serving nodes and probe agents) whose votes decide member health',
  dnssec: 'sign zones online: keys kept sealed in the store with LBDNS_KEY_SECRET, and the DS for the parent',
  token: 'manage scoped tokens for the HTTP API (LBDNS_API_LISTEN, docs/api.md)',
};

/** Keyed by the words that name the command (`zone add`, `status`), in the order help lists them. */
export const USAGE = {
  serve: { usage: ['serve [--seed DIR]'], summary: 'run the DNS server (configured by LBDNS_* variables and DATABASE_URL; --seed loads DIR into an empty store)' },
  'probe-agent': {
    usage: ['probe-agent --name NAME [--http ADDR:PORT|none]'],
    summary: 'probe the pool members from this machine and publish the results as votes in the store (DATABASE_URL); no DNS. /metrics and /readyz on --http (default 127.0.0.1:9154)',
  },
  migrate: { usage: ['migrate'], summary: 'apply pending schema migrations' },
  'zone list': { usage: ['zone list [--json]'], summary: 'list zones with their serial and record count' },
  'zone add': { usage: ['zone add NAME [--mname NAME] [--rname NAME] [--ttl N] [--refresh N] [--retry N] [--expire N] [--minimum N]'], summary: 'create an empty zone (SOA defaults: ns1.NAME, hostmaster.NAME)' },
  'zone rm': { usage: ['zone rm NAME'], summary: 'remove a zone and all its records' },
  'zone import': { usage: ['zone import FILE [--origin NAME] [--replace]'], summary: 'load a zone file (origin: --origin, else FILE named NAME.zone, else its SOA owner)' },
  'zone export': { usage: ['zone export NAME [--out FILE] [--pools comment|records|none|comment,records]'], summary: 'print a zone as a zone file (or write it to FILE); pools as a comment block with their definition and their current answerable set as records (default both)' },
  'zone set': { usage: ['zone set NAME [--allow-transfer CIDR,...|none] [--tsig-key NAME,...|none] [--notify ADDR:PORT,...|none]'], summary: 'who may transfer the zone (AXFR/IXFR over TCP: listed networks, or requests signed with a listed key) and the secondaries to NOTIFY; no option: show them' },
  'record list': { usage: ['record list [ZONE] [--name NAME] [--json]'], summary: 'list records, of one zone or all, optionally of one name' },
  'record add': { usage: ['record add NAME TYPE CONTENT... [--ttl N]'], summary: 'add a record (content words are joined: MX 10 mail.example.test)' },
  'record rm': { usage: ['record rm NAME TYPE [CONTENT...]'], summary: 'remove the records of a name and type, or only the one with CONTENT' },
  'pool add': { usage: [`pool add NAME ${SETTINGS}`], summary: 'declare a load-balanced name in the zone that holds it' },
  'pool set': { usage: [`pool set NAME ${SETTINGS.replace('[--insecure]', '[--insecure|--secure]')}`], summary: 'change some settings of a pool (an empty --host goes back to the probed address; --probers all, or "", has every serving node probe every member)' },
  'pool rm': { usage: ['pool rm NAME'], summary: 'remove a pool and its members' },
  'pool list': { usage: ['pool list [ZONE] [--json]'], summary: 'list pools, of one zone or all' },
  'member add': { usage: [`member add POOL ADDRESS [--weight N] [--priority N] [--disabled] [--probe-address IP] ${LOCATION}`], summary: 'add a load balancer address to a pool' },
  'member set': {
    usage: [
      `member set POOL ADDRESS [--weight N] [--priority N] [--enable|--disable] [--probe-address IP] ${LOCATION}`,
      'member set POOL ADDRESS --force down|up|drain --reason TEXT [--until TIME | --for 2h]',
      'member set POOL ADDRESS --clear',
    ],
    summary:
      'change a member; --disable drains it (no answers, no probes), --enable brings it back; "" clears a field. --force overrides its probes (down, drain: out of answers; up: answered whatever they say) until --until (HH:MM UTC or ISO 8601 with a zone) or for --for, or until --clear; who set it and why is shown by status and explain',
  },
  'member rm': { usage: ['member rm POOL ADDRESS'], summary: 'remove a member from a pool' },
  'member list': { usage: ['member list POOL [--json]'], summary: "list a pool's members" },
  'geo add': { usage: ['geo add CIDR [--country CC] [--continent EU] [--region LABEL] [--lat X --lon Y] [--note TEXT]'], summary: 'place the clients of a network (private ranges, known resolvers) at a location' },
  'geo rm': { usage: ['geo rm CIDR'], summary: 'remove a geo network' },
  'geo list': { usage: ['geo list [--json]'], summary: 'list geo networks' },
  'tsig add': { usage: ['tsig add NAME [--algorithm hmac-sha256|hmac-sha512|hmac-sha1]'], summary: "create a TSIG key and print it once in BIND's key format" },
  'tsig list': { usage: ['tsig list [--json]'], summary: 'list TSIG keys (names, algorithms and the zones using them; never the secrets)' },
  'tsig show': { usage: ['tsig show NAME [--json]'], summary: 'a TSIG key: its algorithm, the zones it transfers, the names and types it may update (never the secret)' },
  'tsig rm': { usage: ['tsig rm NAME'], summary: 'remove a TSIG key no zone and no update rule uses' },
  'tsig allow-update': {
    usage: ['tsig allow-update NAME --zone ZONE --name PATTERN --type TXT[,TYPE...]|ANY'],
    summary:
      'let RFC 2136 updates signed with the key change these types at the names PATTERN matches in ZONE: a name, *.NAME (any name below NAME), LABEL.* (any name whose first label is LABEL, e.g. _acme-challenge.*) or * (the whole zone); replaces the types of a rule with the same pattern. Never the SOA, the apex NS set or a pool',
  },
  'tsig deny-update': { usage: ['tsig deny-update NAME [--zone ZONE [--name PATTERN]]'], summary: "remove the key's update rules: all, those of one zone, or one" },
  'maintenance add': {
    usage: ['maintenance add POOL ADDRESS --cron "0 2 * * 0" --duration 2h --reason TEXT [--tz Europe/Berlin]'],
    summary: 'drain the member for --duration every time --cron fires (node-cron syntax, 5 fields or 6 with seconds; in --tz, else UTC); every node opens and closes the window at the same moment',
  },
  'maintenance list': { usage: ['maintenance list [--json]'], summary: 'list maintenance windows: open now, or when the next one opens and closes' },
  'maintenance rm': { usage: ['maintenance rm ID'], summary: 'remove a maintenance window' },
  'vantage list': {
    usage: ['vantage list [--json]'],
    summary: 'list the vantage points: kind, live or not (heartbeat younger than 3 intervals), heartbeat age, interval, clock offset, start, retirement and votes held',
  },
  'vantage retire': { usage: ['vantage retire NAME'], summary: "stop counting a vantage point's votes, on every node at once (recorded with your user name); it cannot vote again until forgotten" },
  'vantage forget': { usage: ['vantage forget NAME'], summary: 'delete a vantage point and its votes; a node or agent of that name registers anew when it next starts or beats' },
  'dnssec enable': {
    usage: ['dnssec enable ZONE [--algorithm 13|15]'],
    summary:
      'sign ZONE: a new combined key (13 ECDSAP256SHA256, the default, or 15 ED25519) sealed with LBDNS_KEY_SECRET, which every node needs; prints the key tag and the DS for the parent. Refuses a zone holding RRSIG, NSEC or NSEC3 records, or DNSKEY, CDS, CDNSKEY or DS at its apex',
  },
  'dnssec ds': { usage: ['dnssec ds ZONE'], summary: 'print the DS (SHA-256) for the parent; the apex also publishes CDS and CDNSKEY (RFC 7344) for parents that read them' },
  'dnssec disable': { usage: ['dnssec disable ZONE'], summary: "remove ZONE's key and serve it unsigned (take the DS out of the parent first)" },
  'dnssec list': { usage: ['dnssec list [--json]'], summary: 'list signed zones with their key tag, algorithm, flags and creation time (never the private key)' },
  'token add': {
    usage: ['token add NAME --scope SCOPE [--scope SCOPE ...]'],
    summary:
      'create an API token and print it once (only its hash is stored). SCOPE: read (everything, read only), admin (tokens), zone:NAME|*:read|write (a zone, its records, pools and members), pool:NAME|*:read|drain|write (drain: enable, disable and override members only)',
  },
  'token list': { usage: ['token list [--revoked] [--json]'], summary: 'list API tokens: scopes, who created them, when last used (never the tokens themselves)' },
  'token rm': { usage: ['token rm NAME'], summary: 'revoke an API token at once (its row stays for the audit trail)' },
  'status': { usage: ['status [POOL] [--json]'], summary: "each pool member's state as every node sees it (up/down since when, last check, how fresh the row is, latency, last error), then every vantage point's vote, whether it counts, and the state the pool's quorum decides" },
  'history': {
    usage: ['history [ZONE|POOL] [--since 1h|30m|2d|ISO] [--limit N] [--json]', 'history --health [POOL] [--since 1h|30m|2d|ISO] [--limit N] [--json]'],
    summary:
      'the audit log, newest transaction first: when, who (your user for CLI edits, token:NAME for the API, db:ROLE and the application for plain SQL), the transaction id, each row changed and, for updates, its fields old → new; ZONE: that zone, its records, pools and members; POOL: that pool and its members (default: the last 20 transactions). --health: the member state changes the serving nodes saw, with the deciding votes or the probe\'s reason',
  },
  'revert': {
    usage: ['revert TXID'],
    summary: "undo every change of transaction TXID (as history shows it) in a new transaction, recorded as yours; refused, with nothing changed, when a later change touched the same rows",
  },
  'explain': { usage: ['explain NAME [--type A|AAAA] [--client IP | --ecs CIDR] [--json] [--url http://127.0.0.1:9153]'], summary: "how the running node would answer NAME for a client: zone, pool, client location, members' health and distance, level, answer" },
  help: { usage: ['help'], summary: 'show this help' },
} as const satisfies Readonly<Record<string, Usage>>;

export type CommandWords = keyof typeof USAGE;
