// The probe scheduler's heap: due order, cancel, reschedule, clear, with one timer however many items wait.
import { describe, expect, it } from 'vitest';
import { DueQueue, type Queued } from '../../src/health/due-queue.js';

interface Item extends Queued {
  readonly name: string;
}
const item = (name: string): Item => ({ name, queueToken: 0 });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('DueQueue', () => {
  it('fires items in due order, each once, not before its time', async () => {
    const fired: [string, number][] = [];
    const t0 = performance.now();
    const q = new DueQueue<Item>((i) => fired.push([i.name, performance.now() - t0]));
    q.schedule(item('c'), t0 + 60);
    q.schedule(item('a'), t0 + 20);
    q.schedule(item('b'), t0 + 40);
    await sleep(120);
    expect(fired.map((f) => f[0])).toEqual(['a', 'b', 'c']);
    const at = Object.fromEntries(fired);
    expect(at.a).toBeGreaterThanOrEqual(19);
    expect(at.b).toBeGreaterThanOrEqual(39);
    expect(at.c).toBeGreaterThanOrEqual(59);
  });

  it('cancel keeps an item from firing; schedule again replaces its earlier time', async () => {
    const fired: string[] = [];
    const q = new DueQueue<Item>((i) => fired.push(i.name));
    const now = performance.now();
    const a = item('a');
    const b = item('b');
    const c = item('c');
    q.schedule(a, now + 10);
    q.schedule(b, now + 10);
    q.schedule(c, now + 10);
    q.cancel(b);
    q.schedule(c, now + 50);
    await sleep(30);
    expect(fired).toEqual(['a']);
    await sleep(50);
    expect(fired).toEqual(['a', 'c']);
    expect(q.size).toBe(0);
  });

  it('an item scheduled from its own firing waits for its new time', async () => {
    const fired: number[] = [];
    const t0 = performance.now();
    const tick = item('tick');
    const q = new DueQueue<Item>((i) => {
      fired.push(performance.now() - t0);
      if (fired.length < 3) q.schedule(i, t0 + 15 * (fired.length + 1));
    });
    q.schedule(tick, t0 + 15);
    await sleep(100);
    expect(fired.length).toBe(3);
    expect(fired[1]).toBeGreaterThanOrEqual(29);
    expect(fired[2]).toBeGreaterThanOrEqual(44);
  });

  it('fires 20,000 items spread over a second in order, and clear() stops the rest', async () => {
    const fired: number[] = [];
    const now = performance.now();
    const q = new DueQueue<Item & { due: number }>((i) => fired.push(i.due));
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    for (let k = 0; k < 20_000; k++) {
      const due = now + random() * 1000;
      q.schedule({ name: String(k), queueToken: 0, due }, due);
    }
    await sleep(200);
    q.clear();
    const atClear = fired.length;
    await sleep(100);
    expect(fired.length).toBe(atClear);
    expect(atClear).toBeGreaterThan(0);
    expect(atClear).toBeLessThan(20_000);
    for (let k = 1; k < fired.length; k++) expect(fired[k]).toBeGreaterThanOrEqual(fired[k - 1]);
  });
});
