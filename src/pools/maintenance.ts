// Maintenance windows: is one open at a given time, and when does the next open, from cron + duration + time zone alone.
import { createTask, validateDetailed } from 'node-cron';
import type { MaintenanceWindow } from '../core/override.js';

/**
 * Evaluated, not scheduled: every node (and every DNS worker) computes the same answer from the window's definition
 * and its own clock, so the pair drains and releases a member at the same moment, and a node started mid-window knows
 * the window is open. node-cron parses the expression and walks the calendar in the time zone (DST included).
 */
export interface WindowState {
  /** opensAt ≤ now < closesAt. */
  readonly open: boolean;
  /** The open window's start, else the next one's. */
  readonly opensAt: number;
  /** Its end: the last of any overlapping occurrences + the duration. */
  readonly closesAt: number;
}

/** A week: longer "windows" are standing drains, which `member set --force drain` says better. */
export const MAX_DURATION_MS = 7 * 24 * 3600 * 1000;
/**
 * Overlapping firings chained into one window at most (each costs a calendar walk, ~0.2 ms). A longer chain (a cron
 * every minute with a 2 h window) closes early on paper; at that time it is evaluated again and found still open.
 */
const MAX_CHAIN = 32;

interface Matcher {
  getNextMatch(date: Date): Date;
}

const matchers = new Map<string, Matcher>();
/** Compiled expressions kept: windows share a few expressions, and parsing is the costly part. */
const MAX_MATCHERS = 1000;

/** Why a cron expression or time zone is unusable, or undefined. */
export function cronProblem(cron: string, tz: string | null): string | undefined {
  const checked = validateDetailed(cron);
  if (!checked.valid) return `cron "${cron}": ${checked.errors.map((e) => e.message).join('; ') || 'not a cron expression'}`;
  if (tz !== null) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: tz });
    } catch {
      return `time zone "${tz}" is not an IANA zone name such as Europe/Berlin`;
    }
  }
  return undefined;
}

/**
 * node-cron's own matcher for the expression: the task it comes with is never started, and is destroyed at once
 * (which also takes it out of node-cron's registry). Throws on an expression node-cron refuses.
 */
function matcherOf(cron: string, tz: string | null): Matcher {
  const key = `${tz ?? 'UTC'}\0${cron}`;
  let m = matchers.get(key);
  if (m !== undefined) return m;
  const task = createTask(cron, () => undefined, { timezone: tz ?? 'UTC' });
  const found = (task as unknown as { timeMatcher?: Partial<Matcher> }).timeMatcher;
  void task.destroy();
  if (typeof found?.getNextMatch !== 'function') throw new Error('node-cron no longer exposes timeMatcher.getNextMatch (see src/pools/maintenance.ts)');
  m = found as Matcher;
  if (matchers.size >= MAX_MATCHERS) matchers.clear();
  matchers.set(key, m);
  return m;
}

/** The first time the expression fires strictly after `t` (whole seconds). */
export function nextFiring(cron: string, tz: string | null, t: number): number {
  return matcherOf(cron, tz).getNextMatch(new Date(t)).getTime();
}

/**
 * The window in force at `now`, else the next one. A window opened by a firing at s covers [s, s + duration); the
 * first firing after now − duration is either ≤ now (open) or the next opening. Firings inside a window extend it.
 */
export function windowAt(w: Pick<MaintenanceWindow, 'cron' | 'tz' | 'durationMs'>, now: number): WindowState {
  const start = nextFiring(w.cron, w.tz, now - w.durationMs);
  let closesAt = start + w.durationMs;
  let s = start;
  for (let i = 0; i < MAX_CHAIN; i++) {
    s = nextFiring(w.cron, w.tz, s);
    if (s >= closesAt) break;
    closesAt = s + w.durationMs;
  }
  return { open: start <= now, opensAt: start, closesAt };
}

/** The next window that opens after `now` (the one after the open window, when one is open). */
export function nextWindow(w: Pick<MaintenanceWindow, 'cron' | 'tz' | 'durationMs'>, now: number): WindowState {
  const state = windowAt(w, now);
  return state.open ? windowAt(w, state.closesAt) : state;
}
