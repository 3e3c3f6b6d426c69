// A TCP proxy in front of PostgreSQL that a test can cut (every connection dropped, new ones refused), black-hole and restore.
import net from 'node:net';

const H = '127.0.0.1';
const SENT_KEPT = 65_536;

interface Link {
  readonly client: net.Socket;
  readonly upstream: net.Socket;
  /** The first SENT_KEPT bytes the client sent, as text: where a session's LISTEN is (it comes right after start-up). */
  sent: string;
  frozen: boolean;
}

export class CuttableProxy {
  server: net.Server | undefined;
  readonly sockets = new Set<net.Socket>();
  readonly #links = new Set<Link>();
  /** undefined: forwarding; '': every connection black-holed; otherwise only those whose client sent this text. */
  #hole: string | undefined;
  port = 0;
  constructor(readonly targetPort: number) {}

  /** Listens on `port` (0: any free port; the same port again after a cut). */
  async open(port = 0): Promise<void> {
    this.server = net.createServer((c) => {
      const up = net.connect(this.targetPort, H);
      const link: Link = { client: c, upstream: up, sent: '', frozen: false };
      this.sockets.add(c).add(up);
      this.#links.add(link);
      const drop = () => {
        c.destroy();
        up.destroy();
        this.sockets.delete(c);
        this.sockets.delete(up);
        this.#links.delete(link);
      };
      c.on('error', drop).on('close', drop);
      up.on('error', drop).on('close', drop);
      // Bytes are written by hand rather than piped so that a link can be frozen between two chunks.
      c.on('data', (d: Buffer) => {
        if (!link.frozen && link.sent.length < SENT_KEPT) link.sent += d.toString('latin1');
        if (this.#hole && !link.frozen && link.sent.includes(this.#hole)) this.#freeze(link);
        if (link.frozen) link.client.unshift(d);
        else up.write(d);
      });
      up.on('data', (d: Buffer) => {
        if (link.frozen) link.upstream.unshift(d);
        else c.write(d);
      });
      if (this.#hole === '') this.#freeze(link);
    });
    await new Promise<void>((r) => this.server!.listen(port, H, r));
    this.port = (this.server!.address() as net.AddressInfo).port;
  }

  /**
   * Stops forwarding without closing anything, like a partition or a failover without RST: bytes wait
   * in the sockets (as TCP would retransmit them) and flow again on heal(). With `onlyAfter`, only the
   * connections whose client has sent that text (now or later) are held; the others go on working.
   */
  blackhole(onlyAfter?: string): void {
    this.#hole = onlyAfter ?? '';
    for (const link of this.#links) {
      if (this.#hole === '' || link.sent.includes(this.#hole)) this.#freeze(link);
    }
  }

  /** Resumes every held connection and forwards normally again. */
  heal(): void {
    this.#hole = undefined;
    for (const link of this.#links) {
      if (!link.frozen) continue;
      link.frozen = false;
      link.client.resume();
      link.upstream.resume();
    }
  }

  #freeze(link: Link): void {
    link.frozen = true;
    link.client.pause();
    link.upstream.pause();
  }

  /** Drops every connection at once and stops accepting new ones. */
  async cut(): Promise<void> {
    this.#hole = undefined;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    this.#links.clear();
    await new Promise<void>((r) => this.server!.close(() => r()));
  }
}
