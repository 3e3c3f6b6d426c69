// One timer for many schedules: a binary min-heap of due times, with the earliest armed as the only setTimeout.
//
// With tens of thousands of members a timer each costs node a Timeout, a TimersList per distinct delay and a
// closure: about 250 bytes per member and a timer-list insertion per probe. Here it is one heap entry.

/** What the queue needs of an item: a field it owns, bumped to cancel the item's pending entry. */
export interface Queued {
  queueToken: number;
}

export class DueQueue<T extends Queued> {
  // The heap as parallel arrays (due times unboxed in a double array), not an object per entry: at 80,000 members an
  // entry object each, with its due time boxed, was 160,000 long-lived objects for the collector.
  private readonly dues: number[] = [];
  private readonly items: T[] = [];
  private readonly tokenOf: number[] = [];
  private timer: NodeJS.Timeout | undefined;
  private armedFor = Infinity;
  private tokens = 0;

  constructor(
    private readonly fire: (item: T) => void,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Entries in the heap, cancelled ones included until their time comes. */
  get size(): number {
    return this.dues.length;
  }

  /** Fires `item` at monotonic time `due`, replacing anything it had pending. */
  schedule(item: T, due: number): void {
    const token = ++this.tokens;
    item.queueToken = token;
    this.push(due, item, token);
    if (due < this.armedFor) this.arm();
  }

  /** The item's pending entry will not fire (it leaves the heap when its time would have come). */
  cancel(item: T): void {
    item.queueToken = 0;
  }

  /** Nothing fires any more; the timer is cleared. */
  clear(): void {
    for (const item of this.items) item.queueToken = 0;
    this.dues.length = 0;
    this.items.length = 0;
    this.tokenOf.length = 0;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Infinity;
  }

  private arm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Infinity;
    if (this.dues.length === 0) return;
    const due = this.dues[0];
    this.armedFor = due;
    this.timer = setTimeout(() => this.run(), Math.max(0, due - this.now()));
  }

  private run(): void {
    this.timer = undefined;
    this.armedFor = Infinity;
    // Everything due by now fires; what it schedules for later waits for the next timer.
    const now = this.now();
    // (1 ms of slack: node's timer clock has millisecond steps and may wake a fraction early.)
    while (this.dues.length > 0 && this.dues[0] <= now + 1) {
      const item = this.items[0];
      const token = this.tokenOf[0];
      this.pop();
      if (item.queueToken !== token) continue;
      item.queueToken = 0;
      this.fire(item);
    }
    this.arm();
  }

  private push(due: number, item: T, token: number): void {
    let i = this.dues.length;
    this.dues.push(due);
    this.items.push(item);
    this.tokenOf.push(token);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.dues[parent] <= due) break;
      this.move(parent, i);
      i = parent;
    }
    this.put(i, due, item, token);
  }

  /** Removes the earliest entry. */
  private pop(): void {
    const dues = this.dues;
    const lastDue = dues.pop()!;
    const lastItem = this.items.pop()!;
    const lastToken = this.tokenOf.pop()!;
    const n = dues.length;
    if (n === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && dues[r] < dues[l] ? r : l;
      if (dues[c] >= lastDue) break;
      this.move(c, i);
      i = c;
    }
    this.put(i, lastDue, lastItem, lastToken);
  }

  private move(from: number, to: number): void {
    this.put(to, this.dues[from], this.items[from], this.tokenOf[from]);
  }

  private put(i: number, due: number, item: T, token: number): void {
    this.dues[i] = due;
    this.items[i] = item;
    this.tokenOf[i] = token;
  }
}
