#!/bin/sh
# keepalived vrrp_script: succeeds only when the local lbdns serves its real zone data (an authoritative SOA).
#
# Usage: check-lbdns.sh NODE_ADDR [PORT] [ZONE]
#
# It asks this node's own address (not the VIP: on the backup the VIP is not local, so the
# query would reach the other node) for the SOA of ZONE, a zone this pair serves, and passes
# only on NOERROR with the AA bit and that zone's SOA in the answer. "The process answers"
# would not do: a node that has not loaded its zones (an empty store, the wrong database, a
# start before the snapshot arrived) still answers CHAOS TXT id.server, and a VIP handed to it
# would turn every answer into REFUSED. Nor would "the process exists" (a hung lbdns has a PID).
# ZONE: the third argument, else $LBDNS_CHECK_ZONE; without either the check fails (and says
# why on stderr), so a node never takes the VIP on a check that verified nothing.
# One try, one second: keepalived's fall count, not dig's retries, decides how many misses make
# a failure.
# The query comes from NODE_ADDR, so lbdns must list the pair's addresses in LBDNS_RRL_EXEMPT
# (docs/ha.md): otherwise a spoofed flood of the same question from that /24 rate limits the check
# on both nodes and both go to FAULT.
set -u
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
addr=${1:?usage: check-lbdns.sh NODE_ADDR [PORT] [ZONE]}
port=${2:-53}
zone=${3:-${LBDNS_CHECK_ZONE:-}}
if [ -z "$zone" ]; then
  echo 'check-lbdns.sh: no zone to check: give a served zone as the third argument or in LBDNS_CHECK_ZONE' >&2
  exit 2
fi
out=$(dig @"$addr" -p "$port" "$zone" SOA +norecurse +time=1 +tries=1 +noall +comments +answer 2>/dev/null) || exit 1
# dig prints the header (status), the flags and the answer lines; all three must hold.
printf '%s\n' "$out" | awk -v zone="$zone" '
  BEGIN { z = tolower(zone); if (z !~ /\.$/) z = z "." }
  /^;; ->>HEADER<<-/ && /status: NOERROR,/ { noerror = 1 }
  /^;; flags:/ { f = $0; sub(/^;; flags:/, "", f); sub(/;.*/, "", f); if (f ~ /(^| )aa( |$)/) aa = 1 }
  !/^;/ && NF >= 5 && $3 == "IN" && $4 == "SOA" && tolower($1) == z { soa = 1 }
  END { exit !(noerror && aa && soa) }'
