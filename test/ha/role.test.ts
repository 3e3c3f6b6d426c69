// watchRoleFile: keepalived's words map to roles, rename-replaced files are followed, stop means stop.
import { mkdtempSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseRole, watchRoleFile, type HaRole } from '../../src/ha/role.js';

describe('parseRole', () => {
  it.each([
    ['MASTER\n', 'primary'],
    ['BACKUP', 'secondary'],
    [' fault ', 'fault'],
    ['STOP', 'unknown'],
    ['', 'unknown'],
    [undefined, 'unknown'],
    ['MASTERFUL', 'unknown'],
  ] as const)('%j → %s', (text, role) => {
    expect(parseRole(text)).toBe(role);
  });
});

describe('watchRoleFile', () => {
  const dirs: string[] = [];
  const stops: (() => void)[] = [];
  afterEach(() => {
    for (const stop of stops.splice(0)) stop();
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  function setup(intervalMs = 60_000): { path: string; seen: HaRole[]; until: (role: HaRole) => Promise<void> } {
    const dir = mkdtempSync(join(tmpdir(), 'lbdns-role-'));
    dirs.push(dir);
    const path = join(dir, 'role');
    const seen: HaRole[] = [];
    const waiters: { role: HaRole; resolve: () => void }[] = [];
    const stop = watchRoleFile(path, (role) => {
      seen.push(role);
      for (const w of waiters.filter((x) => x.role === role)) w.resolve();
    }, { intervalMs });
    stops.push(stop);
    const until = (role: HaRole) =>
      seen.at(-1) === role
        ? Promise.resolve()
        : new Promise<void>((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`no ${role} within 3 s; saw ${seen.join(',')}`)), 3000);
            waiters.push({ role, resolve: () => (clearTimeout(timer), resolve()) });
          });
    return { path, seen, until };
  }

  it('reports unknown for a missing file, then follows writes and atomic replacements', async () => {
    const { path, seen, until } = setup();
    await until('unknown');
    writeFileSync(path, 'MASTER\n');
    await until('primary');
    // notify.sh writes a temp file and renames it over the role file.
    writeFileSync(`${path}.tmp`, 'BACKUP\n');
    renameSync(`${path}.tmp`, path);
    await until('secondary');
    writeFileSync(`${path}.tmp`, 'FAULT\n');
    renameSync(`${path}.tmp`, path);
    await until('fault');
    unlinkSync(path);
    await until('unknown');
    expect(seen).toEqual(['unknown', 'primary', 'secondary', 'fault', 'unknown']);
  });

  it('falls back to periodic reads when no watch event arrives', async () => {
    const seen: HaRole[] = [];
    let content = 'BACKUP';
    const stop = watchRoleFile('/nowhere/role', (role) => seen.push(role), {
      intervalMs: 20,
      readFile: async () => content,
      watchDir: () => ({ close() {} }),
    });
    stops.push(stop);
    await new Promise((r) => setTimeout(r, 60));
    content = 'MASTER';
    await new Promise((r) => setTimeout(r, 100));
    expect(seen).toEqual(['secondary', 'primary']);
  });

  it('reports nothing after stop, and survives a throwing listener', async () => {
    let content = 'MASTER';
    const errors: unknown[] = [];
    let calls = 0;
    const stop = watchRoleFile('/nowhere/role', () => {
      calls++;
      throw new Error('listener bug');
    }, { intervalMs: 20, readFile: async () => content, watchDir: () => ({ close() {} }), onError: (e) => errors.push(e) });
    await new Promise((r) => setTimeout(r, 50));
    content = 'FAULT';
    await new Promise((r) => setTimeout(r, 80));
    stop();
    content = 'BACKUP';
    await new Promise((r) => setTimeout(r, 80));
    expect(calls).toBe(2);
    expect(errors).toHaveLength(2);
  });
});
