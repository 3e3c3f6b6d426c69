// Medians over runs and the aligned text table the benchmark prints.

export function median(xs: readonly number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** One object per key: the median of that numeric field over the runs; other fields from the first run. */
export function medianOf<T extends object>(runs: readonly T[]): T {
  const out: Record<string, unknown> = { ...(runs[0] as Record<string, unknown>) };
  for (const [k, v] of Object.entries(runs[0])) {
    if (typeof v === 'number') out[k] = median(runs.map((r) => (r as Record<string, unknown>)[k] as number));
  }
  return out as T;
}

export function fmt(x: number, digits = 1): string {
  if (!Number.isFinite(x)) return '–';
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** A markdown table whose columns line up in a terminal too; numeric-looking cells are right-aligned. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((r) => /^[-–\d.,×%]+$/.test(r[i] ?? '')));
  const cell = (text: string, i: number): string => (numeric[i] ? text.padStart(widths[i]) : text.padEnd(widths[i]));
  const line = (cells: readonly string[]): string => `| ${cells.map(cell).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (numeric[i] ? '-'.repeat(w + 1) + ':' : '-'.repeat(w + 2))).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}
