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
  if (name === '' || name === '.') return Buffer.from([0]);
  const labels = name.split('.');
  const out = Buffer.alloc(name.length + 2);
  let o = 0;
  for (const label of labels) {
    const n = out.write(label, o + 1, 'latin1');
    out[o] = n;
    o += n + 1;
  }
  out[o] = 0;
  return out;
}
