// Runs the real `dig` and parses its output: header flags, status, and each section's records.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface DigRecord {
  name: string;
  ttl: number;
  class: string;
  type: string;
  data: string;
}

export interface DigResult {
  status: string;
  flags: string[];
  opcode: string;
  id: number;
  question: string[];
  answer: DigRecord[];
  authority: DigRecord[];
  additional: DigRecord[];
  /** The OPT pseudo-section lines (EDNS version, udp size, CLIENT-SUBNET…). */
  opt: string[];
  raw: string;
}

function parseRecord(line: string): DigRecord {
  const [name, ttl, cls, type, ...rest] = line.split(/\s+/);
  return { name, ttl: Number(ttl), class: cls, type, data: rest.join(' ') };
}

export function parseDig(raw: string): DigResult {
  const out: DigResult = { status: '', flags: [], opcode: '', id: -1, question: [], answer: [], authority: [], additional: [], opt: [], raw };
  let section = '';
  for (const line of raw.split('\n')) {
    const header = /->>HEADER<<- opcode: (\w+), status: (\w+), id: (\d+)/.exec(line);
    if (header) {
      out.opcode = header[1];
      out.status = header[2];
      out.id = Number(header[3]);
      continue;
    }
    const flags = /^;; flags:([^;]*);/.exec(line);
    if (flags) {
      out.flags = flags[1].trim().split(/\s+/).filter(Boolean);
      continue;
    }
    const sec = /^;; (\w+) (?:PSEUDO)?SECTION:/.exec(line);
    if (sec) {
      section = sec[1];
      continue;
    }
    if (line.trim() === '') {
      if (section !== 'OPT') section = section === 'QUESTION' ? '' : section;
      continue;
    }
    if (section === 'OPT' && line.startsWith(';')) {
      out.opt.push(line.replace(/^;\s*/, ''));
      continue;
    }
    if (line.startsWith(';')) {
      if (section === 'QUESTION') out.question.push(line.slice(1).trim());
      continue;
    }
    if (section === 'ANSWER') out.answer.push(parseRecord(line));
    else if (section === 'AUTHORITY') out.authority.push(parseRecord(line));
    else if (section === 'ADDITIONAL') out.additional.push(parseRecord(line));
  }
  return out;
}

/** dig @host -p port NAME TYPE [options]; +time/+tries keep a dead server from stalling the test. */
export async function dig(host: string, port: number, args: string[], opts: { timeoutSec?: number } = {}): Promise<DigResult> {
  const t = opts.timeoutSec ?? 2;
  const { stdout } = await run('dig', [`@${host}`, '-p', String(port), `+time=${t}`, '+tries=1', '+nostats', '+nocmd', ...args], { timeout: (t + 3) * 1000 });
  return parseDig(stdout);
}
