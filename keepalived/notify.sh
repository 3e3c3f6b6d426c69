#!/bin/sh
# keepalived notify: records every VRRP transition and publishes this node's role for lbdns.
#
# Usage (keepalived appends the last four): notify.sh ROLE_FILE TYPE NAME STATE PRIORITY
#
# ROLE_FILE gets one word, MASTER, BACKUP, FAULT or STOP, replaced atomically (write, then
# rename) so that a reader never sees a half-written file; lbdns watches it when
# LBDNS_ROLE_FILE points at it and shows the role in /status and a metric. Each transition
# also goes to syslog (tag lbdns-ha) when there is one, and to ROLE_FILE.log, so the history
# survives on hosts without syslog (containers, network namespaces in tests).
set -u
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
role_file=${1:?usage: notify.sh ROLE_FILE TYPE NAME STATE PRIORITY}
type=${2:-}
name=${3:-}
state=${4:-}
priority=${5:-}
now=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
line="$now lbdns-ha $type $name -> $state (priority $priority)"

mkdir -p "$(dirname "$role_file")"
# Only an instance's state is a role; a sync group's notify (if one is ever added) is logged only.
if [ "$type" = INSTANCE ]; then
  tmp="$role_file.tmp.$$"
  printf '%s\n' "$state" >"$tmp" && chmod 0644 "$tmp" && mv -f "$tmp" "$role_file"
fi
printf '%s\n' "$line" >>"$role_file.log"
logger -t lbdns-ha "$type $name -> $state (priority $priority)" 2>/dev/null || true
exit 0
