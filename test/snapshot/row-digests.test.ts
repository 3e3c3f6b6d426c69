// The build thread's per-row digests: equal rows read again become the objects read before, a changed row gets a new
// digest, rows that left the table are forgotten.
import { describe, expect, it } from 'vitest';
import { RowDigests, sameValue } from '../../src/snapshot/row-digests.js';

interface Row {
  readonly id: number;
  readonly name: string;
  readonly ttl: number | null;
  readonly windows?: readonly { readonly cron: string }[];
  readonly key?: Uint8Array;
}

const row = (id: number, name: string, extra: Partial<Row> = {}): Row => Object.freeze({ id, name, ttl: null, ...extra });

describe('sameValue', () => {
  it('compares rows field by field, nested arrays, objects and bytes included', () => {
    expect(sameValue(row(1, 'a'), row(1, 'a'))).toBe(true);
    expect(sameValue(row(1, 'a'), row(1, 'b'))).toBe(false);
    expect(sameValue(row(1, 'a', { ttl: 0 }), row(1, 'a'))).toBe(false);
    expect(sameValue(row(1, 'a', { windows: [{ cron: '* * * * *' }] }), row(1, 'a', { windows: [{ cron: '* * * * *' }] }))).toBe(true);
    expect(sameValue(row(1, 'a', { windows: [{ cron: '* * * * *' }] }), row(1, 'a', { windows: [{ cron: '0 * * * *' }] }))).toBe(false);
    expect(sameValue(row(1, 'a', { windows: [] }), row(1, 'a'))).toBe(false);
    expect(sameValue(row(1, 'a', { key: Uint8Array.of(1, 2) }), row(1, 'a', { key: Uint8Array.of(1, 2) }))).toBe(true);
    expect(sameValue(row(1, 'a', { key: Uint8Array.of(1, 2) }), row(1, 'a', { key: Uint8Array.of(1, 3) }))).toBe(false);
    expect(sameValue(Uint8Array.of(1), [1])).toBe(false);
    expect(sameValue([1, 2], { 0: 1, 1: 2 })).toBe(false);
    expect(sameValue(null, {})).toBe(false);
  });
});

describe('RowDigests', () => {
  it('keeps the object read before for an equal row, and the same array when nothing was replaced', () => {
    const d = new RowDigests<Row>((r) => r.id);
    const first = [row(1, 'a'), row(2, 'b'), row(3, 'c')];
    expect(d.take(first)).toBe(first);
    const digests = first.map((r) => d.digestOf(r));
    expect(new Set(digests).size).toBe(3);

    // Read again: rows 1 and 3 unchanged (new objects), row 2 changed, row 4 new.
    const again = [row(1, 'a'), row(2, 'B'), row(3, 'c'), row(4, 'd')];
    const taken = d.take(again);
    expect(taken).not.toBe(again);
    expect(taken[0]).toBe(first[0]);
    expect(taken[1]).toBe(again[1]);
    expect(taken[2]).toBe(first[2]);
    expect(taken[3]).toBe(again[3]);
    expect(Object.isFrozen(taken)).toBe(true);
    expect(d.digestOf(taken[0])).toBe(digests[0]);
    expect(d.digestOf(taken[1])).not.toBe(digests[1]);
    expect(d.digestOf(taken[2])).toBe(digests[2]);

    // The same objects again: the same array back.
    expect(d.take(taken)).toBe(taken);
  });

  it('forgets rows that left the table, and digests equal content equally', () => {
    const d = new RowDigests<Row>((r) => r.id);
    const a = row(1, 'a');
    d.take([a, row(2, 'b')]);
    const da = d.digestOf(a);
    d.take([row(2, 'b')]);
    // Row 1 is no longer held: an equal row read later is a new object, digested the same.
    const back = row(1, 'a');
    expect(d.take([back, row(2, 'b')])[0]).toBe(back);
    expect(d.digestOf(back)).toBe(da);
    // A row that was never taken is digested but changes nothing held.
    expect(d.digestOf(row(9, 'z'))).toBe(new RowDigests<Row>((r) => r.id).digestOf(row(9, 'z')));
  });

  it('spells a field as told for the digest', () => {
    const plain = new RowDigests<Row>((r) => r.id);
    const byName = new RowDigests<Row>((r) => r.id, (r) => r.name);
    const r = row(1, 'a', { ttl: 5 });
    plain.take([r]);
    byName.take([r]);
    expect(byName.digestOf(r)).toBe(byName.digestOf(row(2, 'a')));
    expect(plain.digestOf(r)).not.toBe(plain.digestOf(row(1, 'a')));
  });
});
