#!/bin/sh
# keepalived vrrp_script: succeeds only when the local lbdns answers a real DNS query.
#
# Usage: check-lbdns.sh NODE_ADDR [PORT]
#
# It asks this node's own address (not the VIP: on the backup the VIP is not local, so the
# query would reach the other node) for CHAOS TXT id.server. Any answer with data proves the
# process is alive, its sockets are open and its answering path runs; "the process exists"
# would not (a hung or half-started lbdns has a PID too). One try, one second: keepalived's
# fall count, not dig's retries, decides how many misses make a failure.
# The query comes from NODE_ADDR, so lbdns must list the pair's addresses in LBDNS_RRL_EXEMPT
# (docs/ha.md): otherwise a spoofed flood of the same question from that /24 rate limits the check
# on both nodes and both go to FAULT.
set -u
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
addr=${1:?usage: check-lbdns.sh NODE_ADDR [PORT]}
port=${2:-53}
answer=$(dig @"$addr" -p "$port" CH TXT id.server +time=1 +tries=1 +short 2>/dev/null) || exit 1
[ -n "$answer" ]
