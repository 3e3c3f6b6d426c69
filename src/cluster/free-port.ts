// A concrete port for LBDNS_LISTEN's port 0 before DNS workers fork: each worker must bind the same UDP and TCP port.
import dgram from 'node:dgram';
import net from 'node:net';
import type { ListenAddress } from '../config.js';

/**
 * Port 0 (tests) means "any free port". One process binds UDP on 0 and TCP on the port it got, retrying when
 * TCP finds it taken; workers each binding 0 through node:cluster can instead end up with a UDP port whose
 * TCP twin another process holds. The primary picks a port free for both first, and the workers bind that.
 */
export async function concreteListen(list: readonly ListenAddress[]): Promise<ListenAddress[]> {
  const out: ListenAddress[] = [];
  for (const l of list) out.push(l.port === 0 ? { ...l, port: await freeUdpTcpPort(l) } : l);
  return out;
}

async function freeUdpTcpPort(l: ListenAddress): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const udp = dgram.createSocket(l.family === 6 ? 'udp6' : 'udp4');
    const port = await new Promise<number>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(0, l.host, () => resolve(udp.address().port));
    });
    const tcpFree = await new Promise<boolean>((resolve) => {
      const s = net.createServer();
      s.once('error', () => resolve(false));
      s.listen(port, l.host, () => s.close(() => resolve(true)));
    });
    await new Promise<void>((r) => udp.close(() => r()));
    if (tcpFree) return port;
  }
  throw new Error(`no port free for both UDP and TCP on ${l.host}`);
}

/** LBDNS_LISTEN's text for a list of addresses. */
export function listenText(list: readonly ListenAddress[]): string {
  return list.map((l) => (l.family === 6 ? `[${l.host}]:${l.port}` : `${l.host}:${l.port}`)).join(',');
}
