// Follows the role file that keepalived's notify script writes, and reports this node's place in the HA pair.
import { watch as fsWatch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';

export const HA_ROLES = ['primary', 'secondary', 'fault', 'unknown'] as const;
export type HaRole = (typeof HA_ROLES)[number];

/**
 * keepalived's state word → role. "primary" means "holds the VIP now", whichever of the two
 * configs the node runs; STOP (keepalived stopping), garbage and a missing file are "unknown".
 */
export function parseRole(text: string | undefined): HaRole {
  switch (text?.trim().toUpperCase()) {
    case 'MASTER':
      return 'primary';
    case 'BACKUP':
      return 'secondary';
    case 'FAULT':
      return 'fault';
    default:
      return 'unknown';
  }
}

export interface WatchRoleOptions {
  /** Re-read period, a fallback for filesystems where fs.watch misses events. Default 2000 ms. */
  readonly intervalMs?: number;
  /** Called when onChange throws; the watcher keeps going either way. */
  readonly onError?: (err: unknown) => void;
  /** Injected for tests. */
  readonly readFile?: (path: string) => Promise<string>;
  readonly watchDir?: (dir: string, listener: (filename: string | null) => void) => { close(): void };
}

function defaultWatchDir(dir: string, listener: (filename: string | null) => void): { close(): void } {
  const watcher = fsWatch(dir, { persistent: false }, (_event, filename) => listener(filename === null ? null : String(filename)));
  // A directory that disappears or a watch limit reached: the periodic re-read carries on alone.
  watcher.on('error', () => watcher.close());
  return watcher;
}

/**
 * Calls onChange with the current role at once, then on every change; returns a stop function.
 * The directory is watched, not the file: notify.sh replaces the file by rename, and a watch
 * on the old inode would never fire again.
 */
export function watchRoleFile(path: string, onChange: (role: HaRole) => void, options: WatchRoleOptions = {}): () => void {
  const read = options.readFile ?? ((p: string) => readFile(p, 'utf8'));
  const name = basename(path);
  let current: HaRole | undefined;
  let stopped = false;
  let reading = false;
  let again = false;

  async function refresh(): Promise<void> {
    // One read at a time; events that arrive meanwhile ask for one more pass.
    if (reading) {
      again = true;
      return;
    }
    reading = true;
    try {
      do {
        again = false;
        const role = parseRole(await read(path).catch(() => undefined));
        if (stopped) return;
        if (role !== current) {
          current = role;
          try {
            onChange(role);
          } catch (err) {
            options.onError?.(err);
          }
        }
      } while (again && !stopped);
    } finally {
      reading = false;
    }
  }

  let watcher: { close(): void } | undefined;
  try {
    watcher = (options.watchDir ?? defaultWatchDir)(dirname(path), (filename) => {
      if (filename === null || filename === name) void refresh();
    });
  } catch {
    watcher = undefined; // no directory yet: the timer notices when the file appears
  }
  const timer = setInterval(() => void refresh(), options.intervalMs ?? 2000);
  timer.unref();
  void refresh();
  return () => {
    stopped = true;
    clearInterval(timer);
    watcher?.close();
  };
}
