// Domain-name helpers on the canonical form: lower case, absolute, no trailing dot, root = "".

/** "www.example.test" → "example.test"; the root has no parent. */
export function parentName(name: string): string | undefined {
  if (name === '') return undefined;
  const dot = name.indexOf('.');
  return dot === -1 ? '' : name.slice(dot + 1);
}

/** True when `name` equals `ancestor` or lies below it. */
export function isAtOrBelow(name: string, ancestor: string): boolean {
  if (ancestor === '') return true;
  return name === ancestor || (name.length > ancestor.length && name.endsWith(ancestor) && name[name.length - ancestor.length - 1] === '.');
}

export function labelCount(name: string): number {
  if (name === '') return 0;
  let n = 1;
  for (let i = 0; i < name.length; i++) if (name.charCodeAt(i) === 46) n++;
  return n;
}

/**
 * Wire form of a canonical name (uncompressed). Labels are taken as written: the store
 * never holds escaped dots inside labels.
 */
export function nameToWire(name: string): Buffer {
  const out = Buffer.alloc(name.length + 2);
  return out.subarray(0, writeName(out, 0, name));
}

/**
 * Writes a name in wire form, as nameToWire, into `out` at `at` (room for name.length + 2 octets); returns the offset
 * after it. For callers that assemble a message in a buffer of their own.
 */
export function writeName(out: Uint8Array, at: number, name: string): number {
  if (name === '' || name === '.') {
    out[at] = 0;
    return at + 1;
  }
  let label = at;
  let o = at + 1;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 46) {
      out[label] = o - label - 1;
      label = o++;
    } else out[o++] = c & 0xff;
  }
  out[label] = o - label - 1;
  out[o] = 0;
  return o + 1;
}
