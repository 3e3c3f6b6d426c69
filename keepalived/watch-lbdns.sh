#!/bin/bash
# Fast watcher: asks the local lbdns for a served zone's SOA every 0.15 s and flips keepalived's track_file.
#
# Usage: watch-lbdns.sh NODE_ADDR PORT TRACK_FILE ZONE [INTERVAL_MS] [FALL] [RISE] [TIMEOUT_MS]
#
# keepalived's vrrp_script runs at most once a second (whole seconds only), so a killed lbdns
# costs 1-2 s of answers. This loop queries every INTERVAL_MS (default 150) and writes 1 to
# TRACK_FILE when lbdns is gone, 0 after RISE (default 3) good answers in a row. keepalived
# watches the file with inotify and, as the track_file has weight 0, a non-zero value puts the
# instance in FAULT at once: the peer holds the VIP about 70 ms after the file changes.
#
# The question is the one check-lbdns.sh asks: the SOA of ZONE (a zone this pair serves; '' means
# $LBDNS_CHECK_ZONE), and only NOERROR with the AA bit and that SOA in the answer is a good
# answer. So "up" means "serves its zone data", never merely "the process answers".
# "Gone" is decided two ways. A refused query (ICMP port unreachable: nothing listens) counts
# at once: that is a dead process, not a slow one. A query unanswered after TIMEOUT_MS (default
# 200; dig's own minimum is a whole second, so `timeout` cuts it short), or answered without the
# zone's SOA, counts only after FALL (default 4) in a row, so that a hung lbdns is caught in
# about 0.9 s while a stall shorter than that (a GC pause, a busy CPU) moves nothing. After a
# timeout the next query goes at once: a query that went unanswered while a killed lbdns was
# still going away (its last worker exiting) is followed by a refused one at once, not a round later.
#
# Trades: about seven check queries a second and two short-lived processes each (about 10% of one
# core of a 2-vCPU VM, dig's start-up mostly). Each
# false alarm costs two short outages (the move, then the fail-back after the vrrp_script's rise
# and preempt_delay) where the slow check would have cost none, and if both nodes are starved
# at once both can be in FAULT, with no node holding the VIP until one recovers: lower FALL or
# TIMEOUT_MS only where the machines have CPU to spare (we saw exactly that on a 2-CPU test
# machine under a load of 10 with FALL 1).
# The vrrp_script check stays in force: the watcher only makes failover faster, and when it
# is stopped it writes 0, so that a stopped watcher never holds a healthy node in FAULT.
set -u
export LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
usage='usage: watch-lbdns.sh NODE_ADDR PORT TRACK_FILE ZONE [INTERVAL_MS] [FALL] [RISE] [TIMEOUT_MS]'
addr=${1:?$usage}
port=${2:?$usage}
track=${3:?$usage}
zone=${4:-${LBDNS_CHECK_ZONE:-}}
if [ -z "$zone" ] || [[ "$zone" =~ ^[0-9]+$ ]]; then
  # A number here is an interval from the older argument order (before ZONE was added).
  printf 'watch-lbdns.sh: the fourth argument must be a zone this node serves (or set LBDNS_CHECK_ZONE)\n%s\n' "$usage" >&2
  exit 2
fi
zone=${zone,,}
[[ "$zone" == *. ]] || zone="$zone."
interval_us=$(( ${5:-150} * 1000 ))
fall=${6:-4}
rise=${7:-3}
timeout_ms=${8:-200}
query_timeout="$((timeout_ms / 1000)).$(printf '%03d' $((timeout_ms % 1000)))"

# Sets $wrong to why the reply in $1 (dig +noall +comments +answer) is not the zone's authoritative
# SOA, or to '' when it is. Builtins only (no subshell): it runs five times a second.
judge_reply() {
  local line owner ttl class type rest flags=''
  wrong=''
  if [[ "$1" != *'status: NOERROR,'* ]]; then line=${1#*status: }; wrong="status ${line%%,*}"; return; fi
  [[ "$1" =~ \;\;\ flags:([^;]*)\; ]] && flags=" ${BASH_REMATCH[1]} "
  if [[ "$flags" != *' aa '* ]]; then wrong='not authoritative'; return; fi
  while read -r owner ttl class type rest; do
    [ "$class $type" = 'IN SOA' ] && [ "${owner,,}" = "$zone" ] && return
  done <<<"$1"
  wrong="no SOA for $zone in the answer"
}

want=0
said=0
misses=0
hits=0

publish() {
  local current=''
  [ -r "$track" ] && read -r current <"$track"
  # Rewritten whenever it differs, so a keepalived restart that re-initialises the file is corrected.
  [ "$current" = "$1" ] || printf '%s\n' "$1" >"$track"
}

trap 'publish 0; exit 0' TERM INT HUP
publish 0
while :; do
  started=${EPOCHREALTIME/./}
  answer=$(timeout "$query_timeout" dig @"$addr" -p "$port" "$zone" SOA +norecurse +time=1 +tries=1 +noall +comments +answer 2>&1)
  status=$?
  wrong=''
  if [ "$status" = 124 ]; then answer="no answer in ${timeout_ms} ms"
  elif [ "$status" = 0 ]; then judge_reply "$answer"; [ -n "$wrong" ] && answer=$wrong
  fi
  if [ "$status" = 0 ] && [ -z "$wrong" ]; then
    hits=$((hits + 1)); misses=0
    [ "$want" = 1 ] && [ "$hits" -ge "$rise" ] && want=0
  else
    hits=0
    if [[ "$answer" == *'connection refused'* ]]; then misses=$fall; else misses=$((misses + 1)); fi
    [ "$misses" -ge "$fall" ] && want=1
  fi
  if [ "$want" != "$said" ]; then
    # One line per change, for the journal (or wherever the service manager sends stderr).
    printf '%s watch-lbdns: %s:%s %s, track file %s\n' "$(date -u +%FT%T.%3NZ)" "$addr" "$port" \
      "$([ "$want" = 1 ] && echo "not serving $zone (${answer%%$'\n'*})" || echo "serving $zone")" "$want" >&2
    said=$want
  fi
  publish "$want"
  left=$(( interval_us - (${EPOCHREALTIME/./} - started) ))
  if [ "$left" -gt 0 ]; then
    # In the background, so that TERM is handled at once rather than after the sleep.
    sleep "$((left / 1000000)).$(printf '%06d' $((left % 1000000)))" &
    wait $!
  fi
done
