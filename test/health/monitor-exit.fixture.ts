// Run as a child process by monitor.test.ts: probes real servers, stops everything, and must then exit by itself.
import { createLogger } from '../../src/obs/log.js';
import { HealthMonitor } from '../../src/health/monitor.js';
import { member, pool } from '../policies/pool-fixture.js';
import { blackHole, check, httpServer } from './servers.js';

const web = await httpServer('127.0.0.31');
const hole = await blackHole('127.0.0.32');
const monitor = new HealthMonitor({ logger: createLogger('silent') });
monitor.setPools([
  pool([member('127.0.0.31', { id: 1 })], { id: 1, check: check({ port: web.port, intervalMs: 100, timeoutMs: 150 }) }),
  // A probe still in flight at stop() must be aborted, not left to its timeout.
  pool([member('127.0.0.32', { id: 2 })], { id: 2, name: 'hole.example.test', check: check({ port: hole.port, intervalMs: 100, timeoutMs: 60_000 }) }),
]);
await new Promise((r) => setTimeout(r, 350));
monitor.stop();
await Promise.all([web.close(), hole.close()]);
process.stdout.write(`${JSON.stringify(monitor.states().length)}\n`);
