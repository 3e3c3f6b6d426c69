// The build thread's fingerprints of store rows, kept per row so that a reload pays for the rows that changed.
//
// Each full read used to fingerprint every zone from scratch: JSON of all its rows, hashed (at --scale 100,000
// records and 80,000 members: ~0.4 s of the build thread and ~100 MB of strings per reload, whose collections ran
// on the V8 helper threads that share the answering thread's core). Now each row is digested once, when it is first
// read or when it differs from the row read before under its key; a row read again unchanged is replaced by the
// object read before (so the new copy dies young and later steps can know it by identity), and a zone's fingerprint
// is a hash of its rows' digests.
import { createHash } from 'node:crypto';

export const digest = (text: string): string => createHash('sha1').update(text).digest('base64');

/** Equality of store rows as the readers make them: plain values, arrays, plain objects, byte arrays. */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    if (!(a instanceof Uint8Array && b instanceof Uint8Array) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!(Array.isArray(a) && Array.isArray(b)) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameValue(a[i], b[i])) return false;
    return true;
  }
  // for…in rather than Object.keys: no array per row (100,000 rows compared at each read of the records).
  let count = 0;
  for (const k in a) {
    if (!Object.hasOwn(a, k)) continue;
    count++;
    if (!Object.hasOwn(b, k) || !sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  }
  for (const k in b) if (Object.hasOwn(b, k)) count--;
  return count === 0;
}

interface Held<R> {
  readonly row: R;
  digest: string | undefined;
}

/** The rows of one table last taken, by key, each with its digest (made when first asked for). */
export class RowDigests<R> {
  #held = new Map<number | string, Held<R>>();
  /** The array take() returned last: given it again (a table not read again), there is nothing to look at. */
  #taken: readonly R[] | undefined;

  constructor(
    private readonly keyOf: (row: R) => number | string,
    /** The text a row's digest is made from (its JSON, unless a field needs another spelling). */
    private readonly text: (row: R) => string = (row) => JSON.stringify(row),
  ) {}

  /**
   * `rows` as the table now holds them, each one equal to the row held under its key replaced by that one; rows not
   * in `rows` are forgotten. The same array back when every row was already held as the same object.
   */
  take(rows: readonly R[]): readonly R[] {
    if (rows === this.#taken) return rows;
    const next = new Map<number | string, Held<R>>();
    let out: R[] | undefined;
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i];
      const key = this.keyOf(row);
      const had = this.#held.get(key);
      if (had !== undefined && had.row === row) {
        next.set(key, had);
        out?.push(row);
        continue;
      }
      if (had !== undefined && sameValue(had.row, row)) {
        next.set(key, had);
        out ??= rows.slice(0, i);
        out.push(had.row);
        continue;
      }
      next.set(key, { row, digest: undefined });
      out?.push(row);
    }
    this.#held = next;
    this.#taken = out === undefined ? rows : Object.freeze(out);
    return this.#taken;
  }

  /** The digest of a row taken last (made now if it was not yet); a row not taken is digested but not kept. */
  digestOf(row: R): string {
    const had = this.#held.get(this.keyOf(row));
    if (had === undefined || had.row !== row) return digest(this.text(row));
    return (had.digest ??= digest(this.text(row)));
  }
}
