#!/usr/bin/env bash
# Runs redis-benchmark (-t set,incr -P 16 -c 16 -n 100000) against a
# three-node cluster of the given spookd binary on 127.0.0.1, so two
# builds can be compared side by side in one run.
#   usage: scripts/redis-benchmark-cluster.sh SPOOKD_BINARY always|batch|none|memory BASEPORT
# (memory: no data directory, nothing on disk).
# Environment: SPOOK_BM_ARGS replaces the redis-benchmark load arguments
# (default "-t set,incr -P 16 -c 16 -n 100000 -r 100000 -d 32").
# Needs redis-benchmark (Debian redis-tools). Stops the nodes it started
# (by process id).
set -u
bin=$1; fs=$2; p=$3
args=${SPOOK_BM_ARGS:--t set,incr -P 16 -c 16 -n 100000 -r 100000 -d 32}
d=$(mktemp -d)
peers="n1=127.0.0.1:$p,n2=127.0.0.1:$((p+1)),n3=127.0.0.1:$((p+2))"
pids=()
for i in 0 1 2; do
  disk=(--data "$d/n$i" --fsync "$fs"); [ "$fs" = memory ] && disk=()
  "$bin" --listen 127.0.0.1:$((p+i)) --node-id n$((i+1)) --peers "$peers" "${disk[@]}" --log-level error &
  pids+=($!)
done
sleep 1.5
# shellcheck disable=SC2086
redis-benchmark -p $p $args -q 2>/dev/null | tr '\r' '\n' | grep -E '^(SET|INCR): [0-9]' | sed "s|^|$(basename "$bin") $fs |"
kill "${pids[@]}" 2>/dev/null; wait "${pids[@]}" 2>/dev/null; rm -rf "$d"
