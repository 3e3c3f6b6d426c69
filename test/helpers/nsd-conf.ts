// The nsd.conf the NSD comparison test and the benchmark both run NSD with: loopback, one server process, no chroot.

export interface NsdConfOptions {
  /** Holds the zone files (`<zone>.zone`) and NSD's own state files. */
  readonly dir: string;
  readonly port: number;
  readonly zones: readonly string[];
  /** More lines for the `server:` section, indented as they should appear. */
  readonly serverExtra?: string;
}

export function nsdConf(o: NsdConfOptions): string {
  return `server:
  ip-address: 127.0.0.1@${o.port}
  port: ${o.port}
  username: ""
  chroot: ""
  zonesdir: "${o.dir}"
  database: ""
  zonelistfile: "${o.dir}/zone.list"
  pidfile: "${o.dir}/nsd.pid"
  xfrdfile: "${o.dir}/xfrd.state"
  logfile: "${o.dir}/nsd.log"
  server-count: 1
  hide-version: yes
  minimal-responses: yes
${o.serverExtra ?? ''}remote-control:
  control-enable: no
${o.zones.map((z) => `zone:\n  name: ${z}\n  zonefile: ${z}.zone\n`).join('')}`;
}
