// A node's RRsets by type: the ReadonlyMap surface the answer core and tools use.
import { describe, expect, it } from 'vitest';
import { RRsetList, type RRset } from '../../src/core/snapshot.js';

const set = (type: number): RRset => ({ type, ttl: 60, rdata: [Uint8Array.of(type)], targets: [] });

describe('RRsetList', () => {
  it('answers get, has, size and iterates in insertion order like a Map', () => {
    const a = set(1);
    const mx = set(15);
    const txt = set(16);
    const list = new RRsetList([a, mx, txt]);
    const map = new Map([[1, a], [15, mx], [16, txt]]);
    expect(list.size).toBe(3);
    expect(list.get(15)).toBe(mx);
    expect(list.get(28)).toBeUndefined();
    expect(list.has(16)).toBe(true);
    expect(list.has(2)).toBe(false);
    expect([...list.keys()]).toEqual([...map.keys()]);
    expect([...list.values()]).toEqual([...map.values()]);
    expect([...list]).toEqual([...map]);
    expect([...list.entries()]).toEqual([...map.entries()]);
    const seen: number[] = [];
    list.forEach((v, k, m) => {
      expect(m).toBe(list);
      expect(v.type).toBe(k);
      seen.push(k);
    });
    expect(seen).toEqual([1, 15, 16]);
  });

  it('holds a single RRset (kept without an array) with the same surface', () => {
    const aaaa = set(28);
    const list = new RRsetList([aaaa]);
    expect(list.size).toBe(1);
    expect(list.get(28)).toBe(aaaa);
    expect(list.get(1)).toBeUndefined();
    expect(list.has(28)).toBe(true);
    expect(list.has(1)).toBe(false);
    expect([...list.keys()]).toEqual([28]);
    expect([...list.values()]).toEqual([aaaa]);
    expect([...list]).toEqual([[28, aaaa]]);
    const seen: number[] = [];
    list.forEach((v, k) => seen.push(k, v.type));
    expect(seen).toEqual([28, 28]);
  });

  it('is empty when built from nothing and cannot be changed afterwards', () => {
    const source = [set(1)];
    const list = new RRsetList(source);
    source.push(set(28));
    expect(list.size).toBe(1);
    expect(new RRsetList([]).size).toBe(0);
    expect((list as unknown as { set?: unknown }).set).toBeUndefined();
  });
});
