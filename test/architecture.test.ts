// The import directions of src/, written down: core imports nothing outside itself, nothing imports a higher layer, no folder cycles.
import { readdirSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { describe, expect, it } from 'vitest';
import { policies } from '../src/policies/registry.js';

/**
 * Lowest first; a module may import its own group, any group of a lower layer, or a group of its own layer (as long as
 * no cycle forms). A group is a folder of src/, or a file at its root. errors.ts is the one error table every layer
 * throws from. config.ts parses the environment once (with geo's network parser) and hands each module its slice, so it
 * sits above geo and below everything that is handed config. dnssec (keys, signing) sits above config and below the snapshot
 * builder and the store, which carry its keys. pools (a member's overrides and maintenance windows) feed
 * the policies' candidates; schema (the pool model) names the registered policies; zonefile sits above schema because an
 * export writes each pool's definition beside its records; store sits above zonefile because it imports parsed zone files.
 * agent (the probe agent) composes health, store and the ops server, as main does for a serving node. api (the HTTP API)
 * sits just below main, which starts it, and never imports the CLI: what both show (status, exported pools) lives below.
 * serving-heap (the V8 settings main applies to a serving process) imports nothing of lbdns, so it sits at the bottom.
 */
const LAYERS: readonly (readonly string[])[] = [
  ['core', 'errors', 'serving-heap'],
  ['records', 'obs'],
  ['geo'],
  ['config'],
  ['dnssec'],
  ['pools'],
  ['policies'],
  ['schema'],
  ['zonefile'],
  ['snapshot', 'store'],
  ['health'],
  ['server', 'explain', 'xfr', 'ha', 'answer-context', 'seed-pools'],
  ['cluster'],
  ['api'],
  ['cli', 'main', 'agent'],
];
/** Packages only one group may import: the store owns the database driver (STYLE: the store behind one interface). */
const OWNED_PACKAGES: Readonly<Record<string, string>> = { kysely: 'store', pg: 'store' };

const SRC = join(import.meta.dirname, '..', 'src');
const files = (readdirSync(SRC, { recursive: true, encoding: 'utf8' }) as string[]).filter((f) => f.endsWith('.ts')).map((f) => f.split('\\').join('/'));
const groupOf = (file: string): string => (file.includes('/') ? file.slice(0, file.indexOf('/')) : file.replace(/\.ts$/, ''));
const rank = new Map(LAYERS.flatMap((groups, i) => groups.map((g) => [g, i] as const)));
/** Imports and re-exports at the start of a line (`import type` and multi-line ones too), side-effect imports, import(). */
const SPECIFIER = /^(?:import|export)\b[^;]*?\bfrom\s*['"]([^'"]+)['"]|^import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm;

const imports = files.flatMap((file) =>
  [...readFileSync(join(SRC, file), 'utf8').matchAll(SPECIFIER)].map((m) => {
    const spec = m[1] ?? m[2] ?? m[3];
    const target = spec.startsWith('.') ? posix.join(posix.dirname(file), spec).replace(/\.js$/, '.ts') : undefined;
    return { file, spec, target, from: groupOf(file), to: target === undefined ? undefined : groupOf(target) };
  }),
);

describe('architecture', () => {
  it('finds the imports it checks', () => {
    expect(files.length).toBeGreaterThan(50);
    expect(imports.filter((i) => i.target === 'core/snapshot.ts').length).toBeGreaterThan(10);
  });

  it('places every folder and root file in a layer', () => {
    expect([...new Set(files.map(groupOf))].filter((g) => !rank.has(g))).toEqual([]);
  });

  it('core imports nothing outside core, not even a package', () => {
    expect(imports.filter((i) => i.from === 'core' && i.to !== 'core').map((i) => `${i.file} → ${i.spec}`)).toEqual([]);
  });

  it('no module imports a higher layer, and packages stay with their owner', () => {
    const up = imports.filter((i) => i.to !== undefined && rank.get(i.to)! > rank.get(i.from)!).map((i) => `${i.file} → ${i.spec}`);
    const owned = imports.filter((i) => i.to === undefined && (OWNED_PACKAGES[i.spec] ?? i.from) !== i.from).map((i) => `${i.file} → ${i.spec}`);
    expect([...up, ...owned]).toEqual([]);
  });

  it("a policy is named by the registry alone: nothing outside src/policies imports a policy's own file", () => {
    const own = new Set(Object.keys(policies).map((name) => `policies/${name}.ts`));
    expect(imports.filter((i) => i.from !== 'policies' && own.has(i.target ?? '')).map((i) => `${i.file} → ${i.spec}`)).toEqual([]);
  });

  it('no import cycle between groups', () => {
    const edges = new Map<string, Set<string>>();
    for (const i of imports) if (i.to !== undefined && i.to !== i.from) edges.set(i.from, (edges.get(i.from) ?? new Set()).add(i.to));
    const cycles = new Set<string>();
    const done = new Set<string>();
    const walk = (g: string, path: readonly string[]): void => {
      if (path.includes(g)) return void cycles.add([...path.slice(path.indexOf(g)), g].join(' → '));
      if (done.has(g)) return;
      for (const next of edges.get(g) ?? []) walk(next, [...path, g]);
      done.add(g);
    };
    for (const g of edges.keys()) walk(g, []);
    expect([...cycles]).toEqual([]);
  });
});
