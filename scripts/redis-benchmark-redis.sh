#!/usr/bin/env bash
# Runs the same redis-benchmark load as scripts/redis-benchmark-cluster.sh
# against redis-server as a primary and two replicas on 127.0.0.1 (as
# bench/ runs Redis: AOF on, no RDB saves), so Spook and Redis can be
# compared in one run.
#   usage: scripts/redis-benchmark-redis.sh always|everysec|memory BASEPORT
# (memory: AOF off).
# Environment: SPOOK_BM_ARGS as in redis-benchmark-cluster.sh.
# Needs redis-server and redis-benchmark (make bench-deps). Stops the
# servers it started (by process id).
set -u
fs=$1; p=$2
args=${SPOOK_BM_ARGS:--t set,incr -P 16 -c 16 -n 100000 -r 100000 -d 32}
d=$(mktemp -d)
pids=()
for i in 0 1 2; do
  mkdir -p "$d/r$i"
  extra=(); [ $i != 0 ] && extra=(--replicaof 127.0.0.1 $p)
  aof=(--appendonly yes --appendfsync "$fs"); [ "$fs" = memory ] && aof=(--appendonly no)
  redis-server --port $((p+i)) --bind 127.0.0.1 --dir "$d/r$i" --save "" "${aof[@]}" \
    --daemonize no --logfile "" --loglevel warning "${extra[@]}" >/dev/null &
  pids+=($!)
done
sleep 1.5
# shellcheck disable=SC2086
redis-benchmark -p $p $args -q 2>/dev/null | tr '\r' '\n' | grep -E '^(SET|INCR): [0-9]' | sed "s|^|redis $fs |"
kill "${pids[@]}" 2>/dev/null; wait "${pids[@]}" 2>/dev/null; rm -rf "$d"
