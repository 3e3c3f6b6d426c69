// `npm run bench:propagation [-- --edits N]`: time from COMMIT of an edit to the first answer that reflects it,
// with LISTEN/NOTIFY and with polling only (LBDNS_CHANGE_FEED=poll), against a real PostgreSQL.
import './lib/current-build.js';
import dgram from 'node:dgram';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createTestDatabase, pgAvailable } from '../test/helpers/db.js';
import { startChild } from '../test/helpers/server.js';
import { buildQuery, decodeReply } from '../test/helpers/wire.js';

const { values } = parseArgs({ options: { edits: { type: 'string', default: '100' }, poll: { type: 'string', default: '2' } } });
const edits = Math.min(1000, Number(values.edits));
if (!(await pgAvailable())) {
  console.error('bench:propagation needs PostgreSQL on 127.0.0.1:5432');
  process.exit(1);
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

async function measure(mode: 'listen' | 'poll'): Promise<number[]> {
  const db = await createTestDatabase();
  const server = await startChild({ DATABASE_URL: db.url, LBDNS_DATA_DIR: db.dataDir, LBDNS_CHANGE_FEED: mode, LBDNS_POLL_INTERVAL: values.poll, LBDNS_RRL_RATE: '0' }, 90_000);
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  let id = 0;
  const ask = () =>
    new Promise<string>((resolve) => {
      const qid = ++id & 0xffff;
      const timer = setTimeout(() => resolve(''), 1000);
      const on = (m: Buffer) => {
        if (m.readUInt16BE(0) !== qid) return;
        clearTimeout(timer);
        sock.off('message', on);
        resolve(decodeReply(m).answers.map((a: any) => a.address).join(','));
      };
      sock.on('message', on);
      sock.send(buildQuery({ id: qid, name: 'prop.example.test' }), server.dnsPort, '127.0.0.1');
    });
  const latencies: number[] = [];
  try {
    await client.query(`insert into records (zone_id, name, type, ttl, content) select id, 'prop.example.test', 'A', 5, '198.51.100.0' from zones where name = 'example.test'`);
    while ((await ask()) !== '198.51.100.0') await new Promise((r) => setTimeout(r, 20));
    for (let i = 1; i <= edits; i++) {
      const address = `198.51.${100 + (i >> 8)}.${i & 255}`;
      await client.query(`update records set content = $1 where name = 'prop.example.test'`, [address]);
      const committed = performance.now();
      // Bounded: an edit not seen within 10 s counts as 10 s and the run goes on.
      while ((await ask()) !== address && performance.now() - committed < 10_000);
      latencies.push(performance.now() - committed);
      // Polling ticks on its own clock: a random pause spreads the edits over its phase.
      await new Promise((r) => setTimeout(r, mode === 'poll' ? Math.random() * Number(values.poll) * 1000 : 30));
    }
  } finally {
    sock.close();
    await client.end();
    await server.stop();
    await db.drop();
  }
  return latencies;
}

console.log(`propagation: ${edits} edits, COMMIT → first answer reflecting it (poll interval ${values.poll} s)`);
console.log('mode     p50 ms    p99 ms    max ms');
for (const mode of ['listen', 'poll'] as const) {
  const l = await measure(mode);
  console.log(`${mode.padEnd(6)} ${pct(l, 50).toFixed(1).padStart(8)} ${pct(l, 99).toFixed(1).padStart(9)} ${Math.max(...l).toFixed(1).padStart(9)}`);
}
