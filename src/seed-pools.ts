// Seeds pools from <zonesDir>/pools.json when the zones were just seeded, so `npm start` shows pools at work.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { Store } from './store/store.js';

const fileSchema = z.object({
  about: z.string().optional(),
  pools: z.array(
    z.object({
      name: z.string(),
      policy: z.string().optional(),
      ttl: z.number().optional(),
      count: z.number().optional(),
      allDown: z.string().optional(),
      check: z.record(z.string(), z.unknown()).optional(),
      members: z.array(z.object({ address: z.string() }).passthrough()),
    }),
  ),
});

/** Returns the pools created; a missing file is no error. */
export async function seedPools(store: Store, zonesDir: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(join(zonesDir, 'pools.json'), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const { pools } = fileSchema.parse(JSON.parse(text));
  const created: string[] = [];
  for (const { members, ...pool } of pools) {
    await store.addPool(pool as Parameters<Store['addPool']>[0]);
    for (const m of members) await store.addMember(pool.name, m as Parameters<Store['addMember']>[1]);
    created.push(pool.name);
  }
  return created;
}
