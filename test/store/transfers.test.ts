// Migration 0006 in a real PostgreSQL: transfer settings, TSIG keys, the pool serial bumped once per pair, and the IXFR journal.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/store.js';
import { createTestDatabase, storeConfig, type TestDatabase } from '../helpers/db.js';

let db: TestDatabase;
let store: Store;
let other: Store;

beforeAll(async () => {
  db = await createTestDatabase();
  store = await openStore(storeConfig(db), { role: 'server', migrate: true });
  // A second connection pool stands for the other node of the pair.
  other = await openStore(storeConfig(db), { role: 'server' });
  await store.addZone({ name: 'xfr.test' });
});

afterAll(async () => {
  await other?.close();
  await store?.close();
  await db?.drop();
});

const SECRET = Buffer.alloc(32, 1).toString('base64');

describe('zone transfer settings and keys', () => {
  it('sets networks, keys and NOTIFY targets; refuses unknown keys, bad networks and bad targets with one line', async () => {
    await store.addTsigKey({ name: 'Key-A.', algorithm: 'hmac-sha256', secret: SECRET });
    const s = await store.setTransferSettings('XFR.test.', { allowTransfer: ['198.18.0.0/15'], keys: ['key-a'], notify: ['127.0.0.1:5353', '[::1]:53'] });
    expect(s).toMatchObject({ zone: 'xfr.test', allowTransfer: ['198.18.0.0/15'], keys: ['key-a'], notify: ['127.0.0.1:5353', '[::1]:53'], poolSet: undefined });
    await expect(store.setTransferSettings('xfr.test', { keys: ['nope'] })).rejects.toThrow('zone xfr.test: tsig key nope does not exist');
    await expect(store.setTransferSettings('xfr.test', { allowTransfer: ['198.18.0.1/15'] })).rejects.toMatchObject({ code: 'E_INPUT' });
    await expect(store.setTransferSettings('xfr.test', { notify: ['localhost'] })).rejects.toMatchObject({ code: 'E_INPUT' });
    await expect(store.setTransferSettings('none.test', { notify: [] })).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
    expect((await store.transferSettings('xfr.test'))[0].keys).toEqual(['key-a']);
  });

  it('keeps a key a zone uses, refuses duplicates and short secrets', async () => {
    await expect(store.removeTsigKey('key-a')).rejects.toThrow('tsig key key-a is used by zone xfr.test');
    await expect(store.addTsigKey({ name: 'key-a', algorithm: 'hmac-sha256', secret: SECRET })).rejects.toThrow('tsig key key-a already exists');
    await expect(store.addTsigKey({ name: 'key-b', algorithm: 'hmac-sha256', secret: 'c2hvcnQ=' })).rejects.toMatchObject({ code: 'E_INPUT' });
    await store.setTransferSettings('xfr.test', { keys: [] });
    await store.removeTsigKey('key-a');
    expect(await store.tsigKeys()).toEqual([]);
  });
});

describe('pool serials and the journal', () => {
  it('two nodes reporting the same pool set move the serial once, and the journal holds the pool records removed and added', async () => {
    const start = (await store.getZone('xfr.test'))!.serial;
    const lines1 = ['lb.xfr.test 30 A 192.0.2.1', 'lb.xfr.test 30 A 192.0.2.2'];
    const [a, b] = await Promise.all([store.advancePoolSerial('xfr.test', 'fp1', lines1), other.advancePoolSerial('xfr.test', 'fp1', lines1)]);
    expect([a, b].filter((x) => x !== undefined)).toEqual([start + 1]);
    expect(await store.advancePoolSerial('xfr.test', 'fp1', lines1)).toBeUndefined();
    const lines2 = ['lb.xfr.test 30 A 192.0.2.2'];
    expect(await other.advancePoolSerial('xfr.test', 'fp2', lines2)).toBe(start + 2);
    expect((await store.transferSettings('xfr.test'))[0].poolSet).toEqual(lines2);
    const steps = await store.journal('xfr.test', start + 1, start + 2);
    expect(steps).toEqual([{ fromSerial: start + 1, toSerial: start + 2, removed: [{ name: 'lb.xfr.test', type: 'A', ttl: 30, content: '192.0.2.1' }], added: [] }]);
  });

  it('journals record edits step by step, chains them, and says when the journal does not reach', async () => {
    const s0 = (await store.getZone('xfr.test'))!.serial;
    await store.addRecord({ name: 'a.xfr.test', type: 'A', content: '192.0.2.10' });
    await store.addRecord({ name: 'a.xfr.test', type: 'TXT', ttl: 60, content: '"hi"' });
    await store.removeRecord({ name: 'a.xfr.test', type: 'A' });
    const s3 = (await store.getZone('xfr.test'))!.serial;
    expect(s3).toBe(s0 + 3);
    const steps = await store.journal('xfr.test', s0, s3);
    expect(steps?.map((s) => [s.fromSerial, s.toSerial, s.removed.map((r) => r.content), s.added.map((r) => r.content)])).toEqual([
      [s0, s0 + 1, [], ['192.0.2.10']],
      [s0 + 1, s0 + 2, [], ['"hi"']],
      [s0 + 2, s0 + 3, ['192.0.2.10'], []],
    ]);
    expect(steps?.[0].added[0]).toEqual({ name: 'a.xfr.test', type: 'A', ttl: null, content: '192.0.2.10' });
    expect(await store.journal('xfr.test', s0 - 100, s3)).toBeUndefined();
    expect(await store.journal('xfr.test', s0, s3 + 1)).toBeUndefined();
  });

  it('keeps the last 50 steps of a zone', async () => {
    const s0 = (await store.getZone('xfr.test'))!.serial;
    for (let i = 0; i < 60; i++) await store.addRecord({ name: `n${i}.xfr.test`, type: 'A', content: '192.0.2.1' });
    const s60 = (await store.getZone('xfr.test'))!.serial;
    expect(await store.journal('xfr.test', s0, s60)).toBeUndefined();
    expect((await store.journal('xfr.test', s60 - 50, s60))?.length).toBe(50);
  });
});
