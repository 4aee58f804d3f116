#!/usr/bin/env bash
# Wait, up to FISCUS_QUIET_WAIT_SECONDS (default 180), until the machine's CPUs are
# mostly idle (busy under FISCUS_QUIET_BUSY_PERCENT, default 25, over a 5-second sample),
# so that timed work does not start while something else still runs. Never fails:
# after the wait it says how busy the machine still is and goes on.
set -euo pipefail

limit=${FISCUS_QUIET_WAIT_SECONDS:-180}
busy_limit=${FISCUS_QUIET_BUSY_PERCENT:-25}

# Busy percentage of all CPUs over `seconds`, from /proc/stat.
busy_percent() {
  local seconds=$1 a b
  read -r -a a < <(head -n1 /proc/stat)
  sleep "$seconds"
  read -r -a b < <(head -n1 /proc/stat)
  local total=0 idle i
  for i in 1 2 3 4 5 6 7 8; do total=$((total + b[i] - a[i])); done
  idle=$(((b[4] - a[4]) + (b[5] - a[5])))
  if ((total <= 0)); then echo 0; else echo $((100 * (total - idle) / total)); fi
}

waited=0
while true; do
  busy=$(busy_percent 5)
  waited=$((waited + 5))
  if ((busy < busy_limit)); then
    echo "machine quiet: ${busy}% busy (waited ${waited} s)"
    exit 0
  fi
  if ((waited >= limit)); then
    echo "machine still ${busy}% busy after ${waited} s; going on. Busiest processes:"
    ps -eo pcpu,rss,etimes,comm --sort=-pcpu | head -n 6
    exit 0
  fi
  echo "waiting for a quiet machine: ${busy}% busy"
done
