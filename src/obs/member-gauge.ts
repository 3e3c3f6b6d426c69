// A per-member gauge (labels pool and member) that holds no object per member.
//
// prom-client's Gauge keeps a series as an entry object, its labels object and a hash string, and makes all three
// again at every set(): at 80,000 members that was ~250,000 long-lived objects for lbdns_member_up alone, each one
// more for the collector to mark and for scavenges to scan when it points at something young. Here a member's
// series is three entries in three Maps of plain values (its value and the pool name and address strings its owner
// already holds); the labelled values are made only when /metrics is read.
import type { Metric, Registry } from 'prom-client';

interface MemberSample {
  readonly labels: { readonly pool: string; readonly member: string };
  readonly value: number;
}

export class MemberGauge {
  readonly name: string;
  readonly help: string;
  readonly type = 'gauge';
  /** With DNS workers the primary (the only process that sets these) gives the merged value. */
  readonly aggregator = 'max';
  readonly #value = new Map<number, number>();
  readonly #pool = new Map<number, string>();
  readonly #member = new Map<number, string>();

  constructor(o: { readonly name: string; readonly help: string; readonly registry: Registry }) {
    this.name = o.name;
    this.help = o.help;
    o.registry.registerMetric(this as unknown as Metric);
  }

  /** Series held now. */
  get size(): number {
    return this.#value.size;
  }

  /** Sets member `memberId`'s series, labelled with its pool's name and its answered address. */
  set(memberId: number, pool: string, member: string, value: number): void {
    this.#value.set(memberId, value);
    if (this.#pool.get(memberId) !== pool) this.#pool.set(memberId, pool);
    if (this.#member.get(memberId) !== member) this.#member.set(memberId, member);
  }

  /** The member's value, or undefined without a series. */
  value(memberId: number): number | undefined {
    return this.#value.get(memberId);
  }

  remove(memberId: number): void {
    this.#value.delete(memberId);
    this.#pool.delete(memberId);
    this.#member.delete(memberId);
  }

  reset(): void {
    this.#value.clear();
    this.#pool.clear();
    this.#member.clear();
  }

  /** What prom-client's registry reads (text exposition and the workers' aggregation alike). */
  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: MemberSample[] }> {
    const values: MemberSample[] = [];
    for (const [id, value] of this.#value) values.push({ labels: { pool: this.#pool.get(id)!, member: this.#member.get(id)! }, value });
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}
