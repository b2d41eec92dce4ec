#!/usr/bin/env bash
# Measures issue 13's redis-benchmark rows side by side in one run: two
# spookd builds (three-node clusters) and Redis (primary + 2 replicas),
# alternating system by system in each of ROUNDS rounds, each line
# stamped with the 1-minute load average when it started. Summarize with
# scripts/hot-path-summary (medians per row and system).
#   usage: scripts/hot-path-compare.sh BEFORE_SPOOKD AFTER_SPOOKD ROUNDS BASEPORT > raw.txt
# Rows (redis-benchmark -r 100000 -d 32 throughout):
#   mem-c50P16  -t set,incr -n 200000 -c 50 -P 16, nothing on disk
#   batch-c16P16 / always-c16P16  -t set,incr -n 100000 -c 16 -P 16
#     (Spook --fsync batch|always vs Redis appendfsync everysec|always)
#   batch-P1cN  -t set -n 20000 -P 1 -c N for N in 1 16 64
set -u
before=$1; after=$2; rounds=$3; p=$4
here=$(cd "$(dirname "$0")" && pwd)
run() { # row args system policy
  local row=$1 args=$2 sys=$3 pol=$4 load
  load=$(cut -d' ' -f1 /proc/loadavg)
  case $sys in
    before) out=$(SPOOK_BM_ARGS="$args" "$here/redis-benchmark-cluster.sh" "$before" "$pol" "$p") ;;
    after) out=$(SPOOK_BM_ARGS="$args" "$here/redis-benchmark-cluster.sh" "$after" "$pol" "$p") ;;
    redis) out=$(SPOOK_BM_ARGS="$args" "$here/redis-benchmark-redis.sh" "$pol" "$p") ;;
  esac
  echo "$out" | awk -v row="$row" -v sys="$sys" -v load="$load" '{print row, sys, $3, $4, "load", load}'
}
for r in $(seq "$rounds"); do
  for sys in before after redis; do
    run mem-c50P16 "-t set,incr -n 200000 -c 50 -P 16 -r 100000 -d 32" $sys memory
    sp=batch; [ $sys = redis ] && sp=everysec
    run batch-c16P16 "-t set,incr -n 100000 -c 16 -P 16 -r 100000 -d 32" $sys $sp
    sa=always
    run always-c16P16 "-t set,incr -n 100000 -c 16 -P 16 -r 100000 -d 32" $sys $sa
    for c in 1 16 64; do
      run batch-P1c$c "-t set -n 20000 -c $c -P 1 -r 100000 -d 32" $sys $sp
    done
  done
done
