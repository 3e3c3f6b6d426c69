// lbdns_member_up and lbdns_member_agreed_up: per-member series kept without an object per member, exposed as any gauge.
import { describe, expect, it } from 'vitest';
import { AggregatorRegistry } from 'prom-client';
import { createMetrics } from '../../src/obs/metrics.js';

const lines = (text: string, name: string): string[] => text.split('\n').filter((l) => l.startsWith(`${name}{`));

describe('MemberGauge', () => {
  it('exposes each member as a pool/member series, follows a new label and a removal, and resets', async () => {
    const m = createMetrics({ defaultMetrics: false });
    m.memberUp.set(7, 'lb.example.test', '192.0.2.1', 1);
    m.memberUp.set(8, 'lb.example.test', '2001:db8::8', 0);
    let text = await m.registry.metrics();
    expect(text).toContain('# TYPE lbdns_member_up gauge');
    expect(lines(text, 'lbdns_member_up').sort()).toEqual([
      'lbdns_member_up{pool="lb.example.test",member="192.0.2.1"} 1',
      'lbdns_member_up{pool="lb.example.test",member="2001:db8::8"} 0',
    ]);
    // The member moves to another pool and address: one series, with the new labels.
    m.memberUp.set(7, 'other.example.test', '192.0.2.9', 0);
    m.memberUp.remove(8);
    text = await m.registry.metrics();
    expect(lines(text, 'lbdns_member_up')).toEqual(['lbdns_member_up{pool="other.example.test",member="192.0.2.9"} 0']);
    expect(m.memberUp.size).toBe(1);
    expect(m.memberUp.value(7)).toBe(0);
    expect(m.memberUp.value(8)).toBeUndefined();
    m.registry.resetMetrics();
    expect(lines(await m.registry.metrics(), 'lbdns_member_up')).toEqual([]);
  });

  it('merges across processes as the other primary-only gauges do (the highest value)', async () => {
    const primary = createMetrics({ defaultMetrics: false });
    const worker = createMetrics({ defaultMetrics: false });
    primary.memberAgreedUp.set(3, 'lb.example.test', '192.0.2.3', 1);
    const merged = AggregatorRegistry.aggregate([await primary.registry.getMetricsAsJSON(), await worker.registry.getMetricsAsJSON()] as never);
    expect(lines(await merged.metrics(), 'lbdns_member_agreed_up')).toEqual(['lbdns_member_agreed_up{pool="lb.example.test",member="192.0.2.3"} 1']);
  });
});
