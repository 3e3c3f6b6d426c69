// The image file (src/snapshot/image-file.ts) against a real PostgreSQL: a start whose store is still at the version and
// stamp of the last run's complete image adopts it instead of reading and building; any change, another database at
// the same version, a damaged file or another build of the code, and the start reads the store as before.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deserialize, serialize } from 'node:v8';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AnswerContext } from '../../src/core/answer.js';
import { respond } from '../../src/core/respond.js';
import { createLogger } from '../../src/obs/log.js';
import { createMetrics } from '../../src/obs/metrics.js';
import { imageFilePath, readImageFile } from '../../src/snapshot/image-file.js';
import { Reloader } from '../../src/snapshot/reloader.js';
import { openStore, type Store } from '../../src/store/store.js';
import { createTestDatabase, storeConfig, type TestDatabase } from '../helpers/db.js';
import { need } from '../helpers/prerequisite.js';
import { buildQuery, decodeReply } from '../helpers/wire.js';

let db: TestDatabase;
let other: TestDatabase;
let store: Store | undefined;
let otherStore: Store | undefined;
let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lbdns-image-file-'));
  db = await createTestDatabase();
  other = await createTestDatabase();
  if (db.url === undefined || other.url === undefined) return;
  store = await openStore(storeConfig(db), { role: 'server', migrate: true });
  otherStore = await openStore(storeConfig(other), { role: 'server', migrate: true });
  for (let i = 0; i < 5; i++) await store.addZone({ name: `z${i}.image.test` });
  await store.addRecord({ name: 'www.z1.image.test', type: 'A', content: '192.0.2.10' });
  await store.addGeoNetwork({ network: '198.18.0.0/24', country: 'NL' });
});
afterAll(async () => {
  await store?.close();
  await otherStore?.close();
  await db?.drop();
  await other?.drop();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach((ctx) => need(ctx, db.url === undefined ? 'no PostgreSQL on 127.0.0.1:5432' : undefined));

const ctx: AnswerContext = { nodeName: 't', choose: () => ({ members: [], scope: 0, allDown: true }) } as unknown as AnswerContext;
const ask = (r: Reloader, name: string): string[] => decodeReply(respond(r.current(), buildQuery({ name }), '127.0.0.1', false, ctx).reply!).answers.map((a: { address: string }) => a.address);

/** A reloader as main.ts makes one, its log lines kept; stopped by the caller. */
function reloader(url: string, snapshotFile: string) {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger('info', { write: (line: string) => void lines.push(JSON.parse(line)) } as never);
  const r = new Reloader({
    load: async () => {
      throw new Error('the build thread reads the store');
    },
    storeInThread: { url, location: 'test store' },
    file: { path: snapshotFile, node: 't' },
    debounceMs: 10,
    log,
    metrics: createMetrics({ defaultMetrics: false }),
  });
  return { r, lines, loaded: () => lines.filter((l) => l.msg === 'snapshot loaded') };
}

/** Runs one start: the first reload, its 'snapshot loaded' line, what it answers for www.z1; then stops. */
async function start(url: string, file: string, wait = true) {
  const x = reloader(url, file);
  try {
    await x.r.reload();
    const line = x.loaded()[0];
    const answer = ask(x.r, 'www.z1.image.test');
    const zones = x.r.current().zones.size;
    // The image file is written after the image is handed over: a run that built one waits for it.
    if (wait && line.from === undefined) {
      const version = x.r.current().version;
      let usable = false;
      for (const t0 = Date.now(); !usable && Date.now() - t0 < 10_000; await new Promise((r) => setTimeout(r, 20))) {
        const f = await readImageFile(imageFilePath(file));
        usable = 'image' in f && f.image.version === version;
      }
      expect(usable, 'the run wrote its image file').toBe(true);
    }
    return { line, answer, zones, warnings: x.lines.filter((l) => l.level === 40).map((l) => `${l.msg}: ${l.reason ?? l.err}`) };
  } finally {
    x.r.stop();
  }
}

describe('the image file', () => {
  it('lets a start with the store unchanged skip the read and the build, and answers as the build did', async () => {
    const file = join(dir, 'a', 'snapshot.json');
    const first = await start(db.url!, file);
    expect(first.line).toMatchObject({ rebuiltZones: 5 });
    expect(first.line.from).toBeUndefined();
    const second = await start(db.url!, file);
    expect(second.line).toMatchObject({ from: 'image file', rebuiltZones: 0, version: first.line.version });
    expect([second.answer, second.zones]).toEqual([first.answer, first.zones]);
    expect(second.answer).toEqual(['192.0.2.10']);
  });

  it('is not used once the store has changed, nor for another database at the same version', async () => {
    const file = join(dir, 'b', 'snapshot.json');
    await start(db.url!, file);
    await store!.addRecord({ name: 'www.z1.image.test', type: 'A', content: '192.0.2.11' });
    const changed = await start(db.url!, file);
    expect(changed.line.from).toBeUndefined();
    expect(changed.answer.sort()).toEqual(['192.0.2.10', '192.0.2.11']);

    // Another database brought to the same version number: its own rows, not the file's.
    const version = changed.line.version as number;
    for (let i = 0; (await otherStore!.loadContents()).version < version; i++) await otherStore!.addZone({ name: `o${i}.image.test` });
    expect((await otherStore!.loadContents()).version).toBe(version);
    const elsewhere = await start(other.url!, file, false);
    expect(elsewhere.line.from).toBeUndefined();
    expect(elsewhere.answer).toEqual([]);
  });

  it('is read past, with one warning, when damaged or written by another build, and written anew', async () => {
    const file = join(dir, 'c', 'snapshot.json');
    await start(db.url!, file);
    const good = readFileSync(imageFilePath(file));
    writeFileSync(imageFilePath(file), good.subarray(0, good.length >> 1));
    const damaged = await start(db.url!, file);
    expect(damaged.line.from).toBeUndefined();
    expect(damaged.warnings).toEqual([expect.stringMatching(/^image file not used: reading the store: damaged/)]);
    expect(damaged.answer.length).toBeGreaterThan(0);

    const body = deserialize(readFileSync(imageFilePath(file))) as Record<string, unknown>;
    writeFileSync(imageFilePath(file), serialize({ ...body, code: 'another build' }));
    const foreign = await start(db.url!, file);
    expect(foreign.line.from).toBeUndefined();
    expect(foreign.warnings).toEqual(['image file not used: reading the store: written by another build of lbdns']);
    // The start wrote its own: the next one uses it.
    expect((await start(db.url!, file)).line.from).toBe('image file');
  });

  it('after a start from it, the next change is built as a change, not a whole new store', async () => {
    const file = join(dir, 'd', 'snapshot.json');
    await start(db.url!, file);
    const x = reloader(db.url!, file);
    try {
      await x.r.reload();
      expect(x.loaded()[0].from).toBe('image file');
      await store!.addRecord({ name: 'new.z3.image.test', type: 'A', content: '192.0.2.33' });
      await x.r.reload();
      const line = x.loaded()[1];
      expect(line).toMatchObject({ reloaded: 'all', rebuiltZones: 1 });
      expect(ask(x.r, 'new.z3.image.test')).toEqual(['192.0.2.33']);
      expect(ask(x.r, 'www.z1.image.test').length).toBeGreaterThan(0);
    } finally {
      x.r.stop();
    }
  });
});
