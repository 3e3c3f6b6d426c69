// The last good store contents on disk, so a node restarted while PostgreSQL is down still answers.
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { DnssecKeyRow, StoreContents } from '../store/rows.js';

const FORMAT = 1;

interface FileBody {
  readonly format: number;
  readonly savedAt: string;
  readonly node: string;
  readonly contents: StoreContents;
}

/** A key row as JSON holds it: bytes as base64 (JSON.stringify would write a Uint8Array as an object of indices). */
type SavedKeyRow = Omit<DnssecKeyRow, 'publicKey' | 'privateKey'> & { readonly publicKey: string; readonly privateKey: string };

const toBase64 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');

/**
 * Key rows back from JSON. A field that is not text becomes empty bytes: the builder then skips the row and reports
 * it (the zone served unsigned), as for any bad row, rather than refusing the whole file.
 */
function keyRowsFromFile(rows: unknown): DnssecKeyRow[] | undefined {
  if (!Array.isArray(rows)) return undefined;
  const bytes = (v: unknown): Uint8Array => new Uint8Array(typeof v === 'string' ? Buffer.from(v, 'base64') : []);
  return rows.map((r: Partial<SavedKeyRow>) => ({
    zoneId: Number(r.zoneId),
    algorithm: Number(r.algorithm),
    flags: Number(r.flags),
    keyTag: Number(r.keyTag),
    publicKey: bytes(r.publicKey),
    privateKey: bytes(r.privateKey),
  }));
}

/**
 * Writes atomically: a temp file in the same folder (mode 0600: the node's own), fsync, then rename over the old one.
 * `data` may be the pieces of the file, written one after the other as they are made.
 */
export async function writeFileAtomically(path: string, data: string | Uint8Array | Iterable<string>): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    if (typeof data === 'string' || data instanceof Uint8Array) await fh.writeFile(data);
    else for (const piece of data) await fh.write(piece);
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

/** Rows per piece of the file: ~50-100 KB of JSON, a young object, where one string of the whole file was ~30 MB. */
const ROWS_PER_PIECE = 500;

/**
 * The file's JSON in pieces: at --scale the file is ~30 MB, and one string of it (and its bytes) at every reload went
 * straight to the build thread's old generation, whose growth set off its major collections (helper threads at the
 * answering thread's priority). JSON.parse reads the pieces back as one text, as before.
 */
function* fileText(body: Omit<FileBody, 'contents'>, contents: Record<string, unknown>): Generator<string> {
  yield `${JSON.stringify(body).slice(0, -1)},"contents":{`;
  let first = true;
  for (const [key, value] of Object.entries(contents)) {
    if (value === undefined) continue;
    yield `${first ? '' : ','}${JSON.stringify(key)}:`;
    first = false;
    if (!Array.isArray(value)) {
      yield JSON.stringify(value);
      continue;
    }
    yield '[';
    for (let i = 0; i < value.length; i += ROWS_PER_PIECE) yield `${i === 0 ? '' : ','}${JSON.stringify(value.slice(i, i + ROWS_PER_PIECE)).slice(1, -1)}`;
    yield ']';
  }
  yield '}}';
}

export async function writeSnapshotFile(path: string, contents: StoreContents, node: string): Promise<void> {
  // The private keys stay sealed on disk as in the store.
  const keys = contents.dnssecKeys?.map((k): SavedKeyRow => ({ ...k, publicKey: toBase64(k.publicKey), privateKey: toBase64(k.privateKey) }));
  await writeFileAtomically(path, fileText({ format: FORMAT, savedAt: new Date().toISOString(), node }, keys === undefined ? { ...contents } : { ...contents, dnssecKeys: keys }));
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
  // A file written before DNSSEC has no key rows: every zone is then served unsigned until the store answers.
  const { dnssecKeys: saved, ...rest } = c;
  const dnssecKeys = keyRowsFromFile(saved);
  const contents = { ...rest, ...(dnssecKeys === undefined ? {} : { dnssecKeys }) } as StoreContents;
  return { savedAt: String(body.savedAt), contents };
}
