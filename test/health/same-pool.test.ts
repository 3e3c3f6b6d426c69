// samePoolForHealth: what makes a rebuilt pool one the monitor and the vote agreement may leave alone.
import { describe, expect, it } from 'vitest';
import { samePoolForHealth } from '../../src/health/same-pool.js';
import { CHECK, member, pool } from '../policies/pool-fixture.js';

const base = () => pool([member('192.0.2.1', { id: 1 }), member('192.0.2.2', { id: 2 })], { id: 7, name: 'www.example.test', check: { ...CHECK } });

describe('samePoolForHealth', () => {
  it('a rebuilt pool with equal content is the same; weights, priorities and locations do not matter', () => {
    expect(samePoolForHealth(base(), base())).toBe(true);
    const weighted = pool([member('192.0.2.1', { id: 1, weight: 9, priority: 2 }), member('192.0.2.2', { id: 2 })], { id: 7, name: 'www.example.test', check: { ...CHECK } });
    expect(samePoolForHealth(base(), weighted)).toBe(true);
  });

  it('a changed check, quorum rule, probers, member, probe address, drain or order is not', () => {
    const b = base();
    const variants = [
      pool([...b.members], { id: 7, name: 'www.example.test', check: { ...CHECK, path: '/health' } }),
      pool([...b.members], { id: 7, name: 'www.example.test', check: { ...CHECK, quorum: 'majority' } }),
      pool([...b.members], { id: 7, name: 'www.example.test', check: { ...CHECK, probers: 2 } }),
      pool([b.members[0], member('192.0.2.3', { id: 2 })], { id: 7, name: 'www.example.test', check: { ...CHECK } }),
      pool([b.members[0], { ...b.members[1], probeAddress: '198.18.0.9' }], { id: 7, name: 'www.example.test', check: { ...CHECK } }),
      pool([b.members[0], { ...b.members[1], enabled: false }], { id: 7, name: 'www.example.test', check: { ...CHECK } }),
      pool([b.members[1], b.members[0]], { id: 7, name: 'www.example.test', check: { ...CHECK } }),
      pool([b.members[0]], { id: 7, name: 'www.example.test', check: { ...CHECK } }),
      pool([...b.members], { id: 7, name: 'api.example.test', check: { ...CHECK } }),
    ];
    for (const v of variants) expect(samePoolForHealth(b, v)).toBe(false);
  });
});
