// Health history: the state changes this node saw (agreed ones with their deciding votes, its own probes' with their
// reason), written to the store (member_transitions, migrations/0013_audit.sql) in batches.
//
// Answers never wait on this. Changes are buffered and written at most every flushMs in one statement per chunk, so a
// flapping member or a failing data centre costs one write a second, not one per change. A member's first result that
// finds it up is not a change worth keeping (80,000 of them at a start at scale); a first result of down is. While the
// store is down the buffer keeps the newest maxBuffered changes and counts the ones it had to drop.
import type { Logger } from '../obs/log.js';
import type { TransitionRecord } from '../store/store.js';
import type { AgreedTransition } from './agreement.js';
import type { Transition } from './tracker.js';

export interface TransitionHistoryOptions {
  /** This node's name (LBDNS_NODE_NAME). */
  readonly node: string;
  readonly write: (rows: readonly TransitionRecord[]) => Promise<unknown>;
  readonly log: Logger;
  /** How long a change waits for others to join its write (default 1000 ms). */
  readonly flushMs?: number;
  /** Changes kept while the store cannot be written (default 10,000); older ones are dropped. */
  readonly maxBuffered?: number;
  readonly now?: () => number;
}

/** Rows per statement: one jsonb parameter each, a few hundred kB at most. */
const CHUNK = 2000;
/** After a failed write, the next attempt comes this much later (or at stop). */
const RETRY_MS = 5000;

export class TransitionHistory {
  readonly #o: TransitionHistoryOptions;
  readonly #now: () => number;
  #buffer: TransitionRecord[] = [];
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> | undefined;
  #dropped = 0;
  #failing = false;
  #stopped = false;

  constructor(opts: TransitionHistoryOptions) {
    this.#o = opts;
    this.#now = opts.now ?? Date.now;
  }

  /** For agreement.onChange: the state answers follow, and the votes that decided it. */
  readonly agreed = (t: AgreedTransition): void => {
    if (t.from === 'unknown' && t.to === 'up') return;
    this.#add({ at: this.#now(), node: this.#o.node, kind: 'agreed', pool: t.poolName, member: t.address, memberId: t.memberId, from: t.from, to: t.to, rule: t.rule, votes: t.votes });
  };

  /** For monitor.onTransition: this node's own probes, with the reason of the one that decided. */
  readonly probe = (t: Transition): void => {
    if (t.from === 'unknown' && t.to === 'up') return;
    this.#add({ at: t.at, node: this.#o.node, kind: 'probe', pool: t.poolName, member: t.address, memberId: t.memberId, from: t.from === 'up' || t.from === 'down' ? t.from : 'unknown', to: t.to, reason: t.reason });
  };

  #add(row: TransitionRecord): void {
    if (this.#stopped) return;
    this.#buffer.push(row);
    const max = this.#o.maxBuffered ?? 10_000;
    if (this.#buffer.length > max) {
      this.#dropped += this.#buffer.length - max;
      this.#buffer.splice(0, this.#buffer.length - max);
    }
    this.#schedule(this.#o.flushMs ?? 1000);
  }

  #schedule(ms: number): void {
    if (this.#timer !== undefined || this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.flush();
    }, ms);
    this.#timer.unref();
  }

  /** Writes what is buffered (after any write under way); a failure keeps the rows for the next attempt. */
  async flush(): Promise<void> {
    while (this.#writing) await this.#writing;
    if (this.#buffer.length === 0) return;
    const rows = this.#buffer;
    this.#buffer = [];
    this.#writing = this.#write(rows).finally(() => (this.#writing = undefined));
    await this.#writing;
  }

  async #write(rows: TransitionRecord[]): Promise<void> {
    let done = 0;
    try {
      for (; done < rows.length; done += CHUNK) await this.#o.write(rows.slice(done, done + CHUNK));
      if (this.#failing || this.#dropped > 0) this.#o.log.info({ written: rows.length, dropped: this.#dropped }, 'health history written again');
      this.#failing = false;
      this.#dropped = 0;
    } catch (err) {
      // Put back what was not written, ahead of what came meanwhile, and try again a little later.
      this.#buffer = [...rows.slice(done), ...this.#buffer];
      const max = this.#o.maxBuffered ?? 10_000;
      if (this.#buffer.length > max) {
        this.#dropped += this.#buffer.length - max;
        this.#buffer.splice(0, this.#buffer.length - max);
      }
      if (!this.#failing) this.#o.log.warn({ err: (err as Error).message, buffered: this.#buffer.length }, 'health history not written; kept for the next attempt');
      this.#failing = true;
      this.#schedule(RETRY_MS);
    }
  }

  /** Changes waiting to be written (for tests and /readyz-style reports). */
  get buffered(): number {
    return this.#buffer.length;
  }

  /** Stops taking changes and writes what is buffered, once. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.flush();
  }
}
