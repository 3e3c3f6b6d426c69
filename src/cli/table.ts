// Plain-text tables for list commands: columns padded to their widest cell, the last one left ragged.

/** Lines of `rows` (the first is the header), two spaces between columns, no trailing spaces. */
export function table(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] + 2))).join('').trimEnd());
}

// "2030-01-01T00:00:08Z": one definition, with the status report that prints times the same way.
export { isoTime } from '../health/status-report.js';

/** "5s ago", "3m ago", "2h ago", "4d ago". */
export function age(ms: number, now: number): string {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 120) return `${s}s ago`;
  if (s < 7200) return `${Math.floor(s / 60)}m ago`;
  if (s < 172_800) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86_400)}d ago`;
}
