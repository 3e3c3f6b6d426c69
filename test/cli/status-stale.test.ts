// `lbdns status` freshness: when a member_health row counts as stale, from its heartbeat age and promised interval.
import { describe, expect, it } from 'vitest';
import { isStale } from '../../src/cli/status-command.js';
import type { NodeHealth } from '../../src/store/store.js';

const row = (heartbeatAge: number, heartbeatSeconds: number | null): NodeHealth => ({
  node: 'ns1',
  up: true,
  since: 0,
  lastCheck: 0,
  latencyMs: 1,
  lastError: null,
  transitions: 0,
  heartbeatAt: 0,
  heartbeatAge,
  heartbeatSeconds,
});

describe('isStale', () => {
  it.each([
    [0, 30, false],
    [30, 30, false],
    [70, 30, false],
    [71, 30, true],
    [3600, 30, true],
    [1_000_000, null, false],
  ])('a row written %ss ago with a %ss heartbeat is stale: %s', (age, interval, stale) => {
    expect(isStale(row(age, interval))).toBe(stale);
  });
});
