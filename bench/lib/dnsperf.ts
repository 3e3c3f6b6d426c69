// Makes sure dnsperf is there, installing Debian's package when it is not (benchmarks only; tests never need it).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export async function ensureDnsperf(): Promise<void> {
  try {
    await run('dnsperf', ['-h']).catch((e) => {
      if (e.code === 'ENOENT') throw e;
    });
    return;
  } catch {
    console.error('dnsperf is missing: installing it from Debian packages');
    await run('apt-get', ['install', '-y', '-qq', 'dnsperf'], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } }).catch(async () => {
      await run('apt-get', ['update', '-qq']);
      await run('apt-get', ['install', '-y', '-qq', 'dnsperf'], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    });
  }
}
