// The last complete snapshot image on disk, so that a restart whose store has not changed since skips the build.
//
// At --scale (100,000 records, 10,000 pools × 8 members) a start spends ~1 s reading the store and ~1.8 s building
// every zone on the build thread; adopting a complete image takes ~0.6 s. The build thread writes every complete image
// it makes (the first load of a run, and the one a starting DNS worker is sent) next to the snapshot file; the next
// start asks the store for its version first, and when it is the image's, adopts the image instead of reading and
// building (src/snapshot/reloader.ts). The version is checked with the config_version row's xmin (StoreContents.stamp),
// so a database made anew that has reached the same version number is not taken for the old one. Any other version:
// the file is ignored and the start reads the store as always.
//
// An image is only as good as the code that encoded it: the file records the code's identity (the build stamp of
// dist/, or the size and time of every source file under a checkout run through tsx), and another identity makes the
// file unusable, as does any other damage. The image holds what the store holds (DNSSEC private keys still sealed),
// so the file is the node's own (mode 0600), like the snapshot file.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deserialize, serialize } from 'node:v8';
import type { SnapshotImage } from './image.js';
import { writeFileAtomically } from './snapshot-file.js';

const FORMAT = 1;

interface ImageFileBody {
  readonly format: number;
  readonly code: string;
  /** StoreContents.stamp of the rows it was built from. */
  readonly stamp: string;
  readonly image: SnapshotImage;
}

/** Where the image of a snapshot file goes. */
export const imageFilePath = (snapshotFile: string): string => `${snapshotFile}.image`;

let identity: string | undefined;

/** The running code's identity: dist/'s build stamp, or (under tsx) a digest of every source file's path, size and time. */
export function codeIdentity(): string {
  if (identity !== undefined) return identity;
  const here = fileURLToPath(import.meta.url);
  const hash = createHash('sha256');
  if (here.endsWith('.ts')) {
    const src = join(dirname(here), '..');
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
        const p = join(dir, entry.name);
        if (entry.isDirectory()) walk(p);
        else {
          const s = statSync(p);
          hash.update(`${p}\0${s.size}\0${s.mtimeMs}\n`);
        }
      }
    };
    walk(src);
  } else {
    // dist/<entry or chunk>: the stamp sits at the top of dist/, written by every build.
    let dir = dirname(here);
    while (!existsSync(join(dir, 'BUILD')) && dirname(dir) !== dir) dir = dirname(dir);
    const stamp = join(dir, 'BUILD');
    hash.update(existsSync(stamp) ? `${stamp}\0${readFileSync(stamp, 'utf8')}` : `${here}\0${statSync(here).mtimeMs}`);
  }
  identity = hash.digest('hex');
  return identity;
}

/** The image, encoded for the file (a copy: the caller may transfer the image's buffers afterwards). */
export function encodeImageFile(image: SnapshotImage, stamp: string): Buffer {
  return serialize({ format: FORMAT, code: codeIdentity(), stamp, image } satisfies ImageFileBody);
}

/** Writes the encoded image atomically (writeFileAtomically: the node's own file). */
export const writeImageFile = (path: string, encoded: Buffer): Promise<void> => writeFileAtomically(path, encoded);

/** The image in the file, or why there is none to use (no file, another format or code, damage). */
export async function readImageFile(path: string): Promise<{ image: SnapshotImage; stamp: string } | { unusable: string }> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    return { unusable: (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'none' : (err as Error).message };
  }
  let body: Partial<ImageFileBody>;
  try {
    body = deserialize(bytes) as Partial<ImageFileBody>;
  } catch (err) {
    return { unusable: `damaged (${(err as Error).message})` };
  }
  if (body === null || typeof body !== 'object' || body.format !== FORMAT) return { unusable: 'another format' };
  if (body.code !== codeIdentity()) return { unusable: 'written by another build of lbdns' };
  const image = body.image as Partial<SnapshotImage> | undefined;
  if (typeof body.stamp !== 'string' || !image || typeof image.version !== 'number' || !Array.isArray(image.zones) || !Array.isArray(image.chunks) || !image.chunks.every((c) => c instanceof Uint8Array)) {
    return { unusable: 'damaged (no image in it)' };
  }
  return { image: image as SnapshotImage, stamp: body.stamp };
}
