// One timer for many schedules: a binary min-heap of due times, with the earliest armed as the only setTimeout.
//
// With tens of thousands of members a timer each costs node a Timeout, a TimersList per distinct delay and a
// closure: about 250 bytes per member and a timer-list insertion per probe. Here it is one heap entry.

/** What the queue needs of an item: a field it owns, bumped to cancel the item's pending entry. */
export interface Queued {
  queueToken: number;
}

interface Entry<T> {
  readonly due: number;
  readonly item: T;
  readonly token: number;
}

export class DueQueue<T extends Queued> {
  private readonly heap: Entry<T>[] = [];
  private timer: NodeJS.Timeout | undefined;
  private armedFor = Infinity;
  private tokens = 0;

  constructor(
    private readonly fire: (item: T) => void,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Entries in the heap, cancelled ones included until their time comes. */
  get size(): number {
    return this.heap.length;
  }

  /** Fires `item` at monotonic time `due`, replacing anything it had pending. */
  schedule(item: T, due: number): void {
    const token = ++this.tokens;
    item.queueToken = token;
    this.push({ due, item, token });
    if (due < this.armedFor) this.arm();
  }

  /** The item's pending entry will not fire (it leaves the heap when its time would have come). */
  cancel(item: T): void {
    item.queueToken = 0;
  }

  /** Nothing fires any more; the timer is cleared. */
  clear(): void {
    for (const e of this.heap) e.item.queueToken = 0;
    this.heap.length = 0;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Infinity;
  }

  private arm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Infinity;
    const head = this.heap[0];
    if (head === undefined) return;
    this.armedFor = head.due;
    this.timer = setTimeout(() => this.run(), Math.max(0, head.due - this.now()));
  }

  private run(): void {
    this.timer = undefined;
    this.armedFor = Infinity;
    // Everything due by now fires; what it schedules for later waits for the next timer.
    const now = this.now();
    // (1 ms of slack: node's timer clock has millisecond steps and may wake a fraction early.)
    while (this.heap.length > 0 && this.heap[0].due <= now + 1) {
      const e = this.pop();
      if (e.item.queueToken !== e.token) continue;
      e.item.queueToken = 0;
      this.fire(e.item);
    }
    this.arm();
  }

  private push(e: Entry<T>): void {
    const h = this.heap;
    let i = h.push(e) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (h[parent].due <= e.due) break;
      h[i] = h[parent];
      i = parent;
    }
    h[i] = e;
  }

  private pop(): Entry<T> {
    const h = this.heap;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= h.length) break;
        const r = l + 1;
        const c = r < h.length && h[r].due < h[l].due ? r : l;
        if (h[c].due >= last.due) break;
        h[i] = h[c];
        i = c;
      }
      h[i] = last;
    }
    return top;
  }
}
