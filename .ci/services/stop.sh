#!/usr/bin/env bash
# Stops what start.sh started (sshd on :2222, slurmd, slurmctld, munged, our dockerd). Idempotent.
# A dockerd that start.sh did not start (no pidfile of ours) is left alone.
set -uo pipefail
DIR=${LLMOPS_SERVICES_DIR:-/tmp/llmops-services}
say() { echo "services: $*" >&2; }
stop_pidfile() { # name pidfile
  if [ -s "$2" ] && kill -0 "$(cat "$2")" 2>/dev/null; then
    local pid; pid=$(cat "$2"); kill "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    say "stopped $1 (pid $pid)"
  fi
  rm -f "$2"
}
# slurmd leaves running jobs alive when it stops: cancel them first (this cluster is ours alone).
if [ -s "$DIR/slurm/slurmctld.pid" ] && command -v squeue >/dev/null; then
  jobs=$(squeue -h -o %i 2>/dev/null || true)
  [ -n "$jobs" ] && scancel $jobs 2>/dev/null && say "cancelled jobs: $(echo $jobs)" && sleep 1
fi
stop_pidfile slurmd "$DIR/slurm/slurmd.pid"
stop_pidfile slurmctld "$DIR/slurm/slurmctld.pid"
stop_pidfile munged /run/munge/munged.pid
stop_pidfile sshd "$DIR/ssh/sshd.pid"
# Containers the tests left behind (labelled by llmops) go first; images stay cached in the data root.
if [ -s "$DIR/docker/dockerd.pid" ] && command -v docker >/dev/null; then
  left=$(docker ps -aq --filter label=dev.llmops.kind 2>/dev/null || true)
  [ -n "$left" ] && docker rm -f $left >/dev/null 2>&1 && say "removed containers: $(echo $left)"
fi
stop_pidfile dockerd "$DIR/docker/dockerd.pid"
exit 0
