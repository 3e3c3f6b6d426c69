// The last good store contents on disk, so a node restarted while PostgreSQL is down still answers.
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { StoreContents } from '../store/rows.js';

const FORMAT = 1;

interface FileBody {
  readonly format: number;
  readonly savedAt: string;
  readonly node: string;
  readonly contents: StoreContents;
}

/** Writes atomically: a temp file in the same folder, fsync, then rename over the old one. */
export async function writeSnapshotFile(path: string, contents: StoreContents, node: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  const body: FileBody = { format: FORMAT, savedAt: new Date().toISOString(), node, contents };
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(JSON.stringify(body));
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

export interface SavedSnapshot {
  readonly savedAt: string;
  readonly contents: StoreContents;
}

/** Reads the file; undefined when there is none. A file that exists but cannot be used throws. */
export async function readSnapshotFile(path: string): Promise<SavedSnapshot | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const body = JSON.parse(text) as Partial<FileBody>;
  const c = body.contents as Partial<StoreContents> | undefined;
  if (body.format !== FORMAT || !c || typeof c.version !== 'number' || !Array.isArray(c.zones) || !Array.isArray(c.records)) {
    throw new Error(`snapshot file ${path} is not a lbdns snapshot of format ${FORMAT}`);
  }
  return { savedAt: String(body.savedAt), contents: c as StoreContents };
}
