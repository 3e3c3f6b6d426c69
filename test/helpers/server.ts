// Starts a real lbdns for integration tests: in this process (fast) or as a child process (like an operator).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { loadConfig } from '../../src/config.js';
import { start, type Running } from '../../src/main.js';
import { createLogger } from '../../src/obs/log.js';

export const ROOT = resolve(import.meta.dirname, '../..');

export interface TestServer {
  readonly dnsPort: number;
  readonly httpPort: number;
  readonly dataDir: string;
  readonly logs: any[];
  readonly running: Running;
  stop(): Promise<void>;
}

/** Env for a server on free loopback ports with its own data dir. */
export function testEnv(extra: Record<string, string | undefined> = {}): Record<string, string> {
  const dataDir = mkdtempSync(join(tmpdir(), 'lbdns-data-'));
  const env: Record<string, string> = {
    LBDNS_LISTEN: '127.0.0.1:0',
    LBDNS_HTTP_LISTEN: '127.0.0.1:0',
    LBDNS_EMBEDDED_PG_LISTEN: '127.0.0.1:0',
    LBDNS_DATA_DIR: dataDir,
    LBDNS_SEED_DIR: join(ROOT, 'zones'),
    LBDNS_NODE_NAME: 'test-node',
    LBDNS_LOG_LEVEL: 'info',
    LBDNS_RELOAD_DEBOUNCE_MS: '20',
  };
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

export async function startInProcess(extra: Record<string, string | undefined> = {}): Promise<TestServer> {
  const env = testEnv(extra);
  const logs: any[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split('\n')) if (line) logs.push(JSON.parse(line));
      cb();
    },
  });
  const config = loadConfig(env);
  const running = await start(config, createLogger(env.LBDNS_LOG_LEVEL, sink));
  const udp = running.dns.addresses.find((a) => a.transport === 'udp')!;
  return {
    dnsPort: udp.port,
    httpPort: running.http.port,
    dataDir: env.LBDNS_DATA_DIR,
    logs,
    running,
    async stop() {
      await running.stop();
      if (!extra.LBDNS_DATA_DIR) rmSync(env.LBDNS_DATA_DIR, { recursive: true, force: true });
    },
  };
}

export interface ChildServer {
  readonly child: ChildProcess;
  readonly dnsPort: number;
  readonly httpPort: number;
  readonly env: Record<string, string>;
  readonly logs: any[];
  stop(): Promise<number | null>;
}

/** Runs `node bin/lbdns.js serve` and waits until it says where it listens. */
export async function startChild(extra: Record<string, string | undefined> = {}, timeoutMs = 60_000): Promise<ChildServer> {
  const env = testEnv(extra);
  const child = spawn(process.execPath, [join(ROOT, 'bin/lbdns.js'), 'serve'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: any[] = [];
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  let dnsPort = 0;
  let httpPort = 0;
  await new Promise<void>((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in ${timeoutMs} ms: ${stderr}`)), timeoutMs);
    let pending = '';
    child.stdout!.on('data', (d) => {
      pending += d;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        let entry: any;
        try {
          entry = JSON.parse(line);
        } catch {
          continue;
        }
        logs.push(entry);
        if (entry.msg === 'dns listening') dnsPort = entry.addresses.find((a: any) => a.transport === 'udp').port;
        if (entry.msg === 'ops http listening') {
          httpPort = entry.port;
          clearTimeout(timer);
          resolvePromise();
        }
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before it was ready: ${stderr}`));
    });
  });
  return {
    child,
    dnsPort,
    httpPort,
    env,
    logs,
    stop: () =>
      new Promise((res) => {
        if (child.exitCode !== null) return res(child.exitCode);
        child.once('exit', (code) => res(code));
        child.kill('SIGTERM');
        setTimeout(() => child.exitCode === null && child.kill('SIGKILL'), 10_000).unref();
      }),
  };
}
