#!/usr/bin/env bash
# Run a training command, and run it again when it stops in a way a restart fixes:
#
#   launch/retry.sh python3 -m star_jax.main --config=... --workdir=...
#
# star_jax.main's exit statuses: 0 done; 143 preempted (SIGTERM: it saved the step it
# reached, a restart resumes there); 1 a failed run (e.g. a lost process under
# jax.distributed, whose survivors stop within config.lost_process_timeout_seconds);
# 2 bad input or config; 130 Ctrl-C. Restarted: 143 and 1, up to MAX_RESTARTS [5] times,
# RETRY_DELAY [10] seconds apart. Not restarted: 0, 2 and 130 (the same input fails the
# same way; Ctrl-C means stop). A SIGTERM to this script itself (the machine is being
# stopped) lets the run save and end, and then ends the loop with its status. Exits with the
# last run's status.
set -uo pipefail
max_restarts=${MAX_RESTARTS:-5}
delay=${RETRY_DELAY:-10}
if [ $# -lt 1 ]; then
  sed -n '2,13p' "$0" >&2
  exit 2
fi
restarts=0
stopping=0
trap 'stopping=1' TERM
while true; do
  "$@"  # in the foreground: a trapped SIGTERM waits for the run to end
  status=$?
  if [ "$stopping" = 1 ]; then
    exit "$status"
  fi
  case $status in
    143|1) ;;
    *) exit "$status" ;;
  esac
  if [ "$restarts" -ge "$max_restarts" ]; then
    echo "retry.sh: exit status $status after $restarts restarts (MAX_RESTARTS=$max_restarts); giving up" >&2
    exit "$status"
  fi
  restarts=$((restarts + 1))
  echo "retry.sh: exit status $status; restart $restarts of $max_restarts in $delay s (resumes from the last checkpoint)" >&2
  sleep "$delay"
done
