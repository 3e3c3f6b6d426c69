// A TCP proxy in front of PostgreSQL that a test can cut (every connection dropped, new ones refused) and restore.
import net from 'node:net';

const H = '127.0.0.1';

export class CuttableProxy {
  server: net.Server | undefined;
  readonly sockets = new Set<net.Socket>();
  port = 0;
  constructor(readonly targetPort: number) {}

  /** Listens on `port` (0: any free port; the same port again after a cut). */
  async open(port = 0): Promise<void> {
    this.server = net.createServer((c) => {
      const up = net.connect(this.targetPort, H);
      this.sockets.add(c).add(up);
      const drop = () => {
        c.destroy();
        up.destroy();
        this.sockets.delete(c);
        this.sockets.delete(up);
      };
      c.on('error', drop).on('close', drop);
      up.on('error', drop).on('close', drop);
      c.pipe(up).pipe(c);
    });
    await new Promise<void>((r) => this.server!.listen(port, H, r));
    this.port = (this.server!.address() as net.AddressInfo).port;
  }

  /** Drops every connection at once and stops accepting new ones. */
  async cut(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await new Promise<void>((r) => this.server!.close(() => r()));
  }
}
