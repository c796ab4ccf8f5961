#!/usr/bin/env bash
# Stop the cluster of slurm-up.sh: slurmd, slurmctld, munged, each by the pid in its pid file.
set -u
stop() {
  local pidfile=$1 pid
  [ -s "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 50); do
    # gone, or a zombie that PID 1 has not reaped yet
    if ! kill -0 "$pid" 2>/dev/null || [ "$(ps -o stat= -p "$pid" | cut -c1)" = Z ]; then return 0; fi
    sleep 0.2
  done
  kill -KILL "$pid" 2>/dev/null || true
}
stop /run/slurmd.pid
stop /run/slurmctld.pid
stop /run/munge/munged.pid
