// Address octets, masks, CIDR text and the network a query is located by (ECS truncation and its edge cases).
import { describe, expect, it } from 'vitest';
import type { Client } from '../../src/core/answer.js';
import { clientNetwork, formatAddress, formatNetwork, maskBytes, parseAddress, parseNetwork } from '../../src/geo/address.js';

function ecs(family: 1 | 2, sourcePrefix: number, octets: number[], address = '198.51.100.7'): Client {
  const buf = new Uint8Array(family === 1 ? 4 : 16);
  buf.set(octets);
  return { address, ecs: { family, sourcePrefix, address: buf } };
}

describe('addresses', () => {
  it.each([
    ['192.0.2.1', 4, '192.0.2.1'],
    ['2001:db8::1', 6, '2001:db8::1'],
    ['2001:DB8:0:0:1:0:0:1', 6, '2001:db8::1:0:0:1'],
    ['::ffff:192.0.2.1', 4, '192.0.2.1'],
    ['::ffff:c000:201', 4, '192.0.2.1'],
    ['64:ff9b::192.0.2.1', 6, '64:ff9b::c000:201'],
    ['::', 6, '::'],
    ['1:2:3:4:5:6:7:8', 6, '1:2:3:4:5:6:7:8'],
  ])('%s is IPv%d %s', (text, family, canonical) => {
    const a = parseAddress(text)!;
    expect(a.family).toBe(family);
    expect(formatAddress(a.family, a.bytes)).toBe(canonical);
  });

  it.each(['192.0.2', '192.0.2.256', 'fe80::1%eth0', 'example', '', '1::2::3'])('rejects %j', (text) => {
    expect(parseAddress(text)).toBeUndefined();
  });

  it('masks within an octet', () => {
    expect([...maskBytes(Uint8Array.from([192, 0, 2, 255]), 27)]).toEqual([192, 0, 2, 224]);
    expect([...maskBytes(Uint8Array.from([255, 255, 255, 255]), 0)]).toEqual([0, 0, 0, 0]);
    expect(formatNetwork(6, parseAddress('2001:db8:aaaa:bbbb::1')!.bytes, 40)).toBe('2001:db8:aa00::/40');
  });

  it('parses networks only with their host bits clear', () => {
    expect(parseNetwork('198.51.100.0/24')).toMatchObject({ family: 4, prefix: 24 });
    expect(parseNetwork('2001:db8::/32')).toMatchObject({ family: 6, prefix: 32 });
    expect(parseNetwork('192.0.2.1')).toMatchObject({ family: 4, prefix: 32 });
    expect(parseNetwork('0.0.0.0/0')).toMatchObject({ prefix: 0 });
    for (const bad of ['198.51.100.1/24', '10.0.0.0/33', '2001:db8::/129', '10.0.0.0/024', '10.0.0.0/', '::ffff:10.0.0.0/104']) {
      expect(parseNetwork(bad), bad).toBeUndefined();
    }
  });
});

describe('clientNetwork: where a query is located from', () => {
  it('cuts an ECS /32 to /24 and a /128 to /56', () => {
    expect(clientNetwork(ecs(1, 32, [203, 0, 113, 77]))).toMatchObject({ family: 4, prefix: 24, from: 'ecs', bytes: Uint8Array.from([203, 0, 113, 0]) });
    const v6 = clientNetwork(ecs(2, 128, [0x20, 0x01, 0x0d, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]))!;
    expect(v6.prefix).toBe(56);
    expect(formatNetwork(6, v6.bytes, v6.prefix)).toBe('2001:db8:102:300::/56');
  });

  it('keeps shorter ECS subnets as sent', () => {
    expect(clientNetwork(ecs(1, 20, [203, 0, 112]))).toMatchObject({ prefix: 20, bytes: Uint8Array.from([203, 0, 112, 0]) });
    expect(clientNetwork(ecs(2, 48, [0x20, 0x01, 0x0d, 0xb8, 0, 1]))).toMatchObject({ family: 6, prefix: 48 });
  });

  it('falls back to the whole resolver address without ECS or with a source prefix of 0', () => {
    expect(clientNetwork({ address: '198.51.100.7', ecs: undefined })).toMatchObject({ family: 4, prefix: 32, from: 'resolver' });
    expect(clientNetwork(ecs(1, 0, []))).toMatchObject({ family: 4, prefix: 32, from: 'resolver', bytes: Uint8Array.from([198, 51, 100, 7]) });
    expect(clientNetwork(ecs(2, 0, [], '2001:db8::53'))).toMatchObject({ family: 6, prefix: 128, from: 'resolver' });
  });

  it('treats a dual-stack socket address (::ffff:a.b.c.d) as IPv4', () => {
    expect(clientNetwork({ address: '::ffff:192.0.2.9', ecs: undefined })).toMatchObject({ family: 4, prefix: 32 });
  });

  it('uses the ECS family, not the transport: an IPv6 subnet over an IPv4 socket stays IPv6', () => {
    expect(clientNetwork(ecs(2, 56, [0x20, 0x01, 0x0d, 0xb8], '192.0.2.1'))).toMatchObject({ family: 6, prefix: 56, from: 'ecs' });
  });

  it('an unreadable resolver address gives no network', () => {
    expect(clientNetwork({ address: 'not-an-ip', ecs: undefined })).toBeUndefined();
  });
});
