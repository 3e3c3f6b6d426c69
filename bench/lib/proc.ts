// A server's process tree read from /proc: its processes, their CPU time and resident memory, and ending it by PID.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of utime/stime in /proc/<pid>/stat. */
export const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** The fields after "(comm)": comm may hold spaces and parentheses, so split after the last ")". */
function statFields(pid: number): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** A process identity that survives PID reuse: the PID and its start time in ticks since boot. */
export interface ProcId {
  readonly pid: number;
  readonly start: string;
}

export function procId(pid: number): ProcId | undefined {
  const f = statFields(pid);
  // Field 22 of stat (starttime) is index 19 of what follows the comm field.
  return f ? { pid, start: f[19] } : undefined;
}

export function alive(p: ProcId): boolean {
  const f = statFields(p.pid);
  return f !== undefined && f[19] === p.start && f[0] !== 'Z';
}

/** Direct children of every thread of pid (a child belongs to the thread that forked it). */
function children(pid: number): number[] {
  const out: number[] = [];
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tasks) {
    try {
      for (const c of readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ')) if (c.trim()) out.push(Number(c));
    } catch {
      // The thread ended between readdir and read.
    }
  }
  return out;
}

/** pid and all its descendants, breadth first. */
export function tree(pid: number): number[] {
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0 && out.length < 10_000) {
    const p = queue.shift()!;
    if (!statFields(p)) continue;
    out.push(p);
    queue.push(...children(p));
  }
  return out;
}

/** utime + stime of one process (all its threads, live and ended), in ticks. */
export function cpuTicks(pid: number): number {
  const f = statFields(pid);
  // utime and stime are fields 14 and 15 of stat: indexes 11 and 12 after the comm field.
  return f ? Number(f[11]) + Number(f[12]) : 0;
}

/** CPU seconds used so far by pid and every descendant alive now. */
export function treeCpuSeconds(pid: number): number {
  let ticks = 0;
  for (const p of tree(pid)) ticks += cpuTicks(p);
  return ticks / CLK_TCK;
}

/** A `kB` field of /proc/<pid>/status (VmRSS, VmHWM…); 0 when the process is gone. */
function statusKb(pid: number, field: string): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

export function rssKb(pid: number): number {
  return statusKb(pid, 'VmRSS');
}

/** Open file descriptors of one process (sockets included). */
export function openFds(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return 0;
  }
}

export interface ProcessMemory {
  readonly pid: number;
  readonly name: string;
  readonly rssMb: number;
  /** The process's highest RSS so far (VmHWM). */
  readonly peakRssMb: number;
}

/** VmHWM: the most resident memory the process has had since it started. */
export function peakRssKb(pid: number): number {
  return statusKb(pid, 'VmHWM');
}

function commOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '?';
  }
}

/** RSS of every process of the tree (the taskset wrapper execs, so the root is the server itself). */
export function treeMemory(pid: number): ProcessMemory[] {
  return tree(pid).map((p) => ({ pid: p, name: commOf(p), rssMb: rssKb(p) / 1024, peakRssMb: peakRssKb(p) / 1024 }));
}

/**
 * Ends a server by PID: SIGTERM to the root, then SIGKILL to any process of its tree (as seen now or earlier,
 * identified by start time so a reused PID is never hit) still there after graceMs.
 */
export async function endTree(root: ProcId, seen: Iterable<ProcId>, graceMs = 10_000): Promise<void> {
  const all = new Map<number, ProcId>();
  for (const p of seen) all.set(p.pid, p);
  if (alive(root)) for (const pid of tree(root.pid)) {
    const id = procId(pid);
    if (id) all.set(pid, id);
  }
  all.set(root.pid, root);
  if (alive(root)) {
    try {
      process.kill(root.pid, 'SIGTERM');
    } catch {
      // Already gone.
    }
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && [...all.values()].some(alive)) await new Promise((r) => setTimeout(r, 50));
  for (const p of all.values()) {
    if (!alive(p)) continue;
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // Ended meanwhile.
    }
  }
}

/** CPU numbers of a taskset list such as "1", "1-3" or "0,2-3". */
export function parseCpuList(list: string): number[] {
  const out: number[] = [];
  for (const part of list.split(',')) {
    const [a, b] = part.split('-').map(Number);
    for (let c = a; c <= (b ?? a); c++) out.push(c);
  }
  return out;
}

/**
 * Seconds of the given CPUs since boot, from /proc/stat: task time (user, nice, system: every process's own),
 * interrupt time (irq, softirq: on loopback mostly the kernel delivering packets that these CPUs sent, charged to
 * no process) and steal (taken by the hypervisor).
 */
export function cpuTimes(cpuNumbers: readonly number[]): { task: number; interrupt: number; steal: number } {
  let task = 0;
  let interrupt = 0;
  let steal = 0;
  for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
    const m = /^cpu(\d+) (.*)$/.exec(line);
    if (!m || !cpuNumbers.includes(Number(m[1]))) continue;
    const [user, nice, system, , , irq, softirq, st] = m[2].trim().split(/\s+/).map(Number);
    task += user + nice + system;
    interrupt += irq + softirq;
    steal += st ?? 0;
  }
  return { task: task / CLK_TCK, interrupt: interrupt / CLK_TCK, steal: steal / CLK_TCK };
}

/** CPU seconds of the kernel's ksoftirqd threads for the given CPUs: softirq work deferred out of interrupt context. */
export function ksoftirqdSeconds(cpuNumbers: readonly number[]): number {
  let ticks = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let comm: string;
    try {
      comm = readFileSync(`/proc/${entry}/comm`, 'utf8').trim();
    } catch {
      continue;
    }
    const m = /^ksoftirqd\/(\d+)$/.exec(comm);
    if (m && cpuNumbers.includes(Number(m[1]))) ticks += cpuTicks(Number(entry));
  }
  return ticks / CLK_TCK;
}
