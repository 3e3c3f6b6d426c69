// LBDNS_KEY_SECRET: read once, at least 16 characters, and never shown by an error, JSON or inspection of the config.
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { LbdnsError } from '../../src/errors.js';

const SECRET = 'Kx9-very-private-value-77';

describe('LBDNS_KEY_SECRET', () => {
  it('is handed to the dnssec slice and shown nowhere else', () => {
    const config = loadConfig({ LBDNS_KEY_SECRET: SECRET });
    expect(config.dnssec.secret).toBe(SECRET);
    expect(JSON.stringify(config)).not.toContain(SECRET);
    expect(JSON.stringify(config.dnssec)).not.toContain(SECRET);
    expect(inspect(config, { depth: null })).not.toContain(SECRET);
    expect(`${JSON.stringify({ ...config.dnssec })}`).not.toContain(SECRET);
    expect(Object.isFrozen(config.dnssec)).toBe(true);
  });

  it('unset or empty: no secret', () => {
    expect(loadConfig({}).dnssec.secret).toBeUndefined();
    expect(loadConfig({ LBDNS_KEY_SECRET: '' }).dnssec.secret).toBeUndefined();
  });

  it('shorter than 16 characters: one configuration error that names the variable, not the value', () => {
    const short = 'Qz7-tiny-secret';
    let err: unknown;
    try {
      loadConfig({ LBDNS_KEY_SECRET: short });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LbdnsError);
    expect((err as LbdnsError).code).toBe('E_CONFIG');
    expect((err as LbdnsError).message).toBe('invalid configuration: LBDNS_KEY_SECRET: must be at least 16 characters');
    expect(JSON.stringify(err)).not.toContain(short);
  });
});
