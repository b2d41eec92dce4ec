#!/usr/bin/env bash
# Measures node 1's memory per key in a three-node spookd cluster on
# 127.0.0.1 (--fsync batch, --data) after loading KEYS keys of 16 bytes
# with 32-byte values the way the harness does (spookbench load: 16
# connections, 64 pipelined SETs each).
# Prints RSS growth per key 3 s after the load, the live Go heap per key
# after a forced GC (/debug/pprof/heap?gc=1 on node 1's --pprof
# listener), and RSS per key 10 s later (after the scavenger returns
# freed pages). GOGC and GOMEMLIMIT in the environment reach spookd.
#   usage: scripts/memory-spookd.sh SPOOKD_BINARY [BASEPORT] [KEYS]
# Needs curl. Stops the nodes it started.
set -eu
bin=$1; p=${2:-7401}; keys=${3:-1000000}; pp=$((p+10))
d=$(mktemp -d)
root=$(cd "$(dirname "$0")/.." && pwd)
go build -C "$root/bench" -o "$d/spookbench" ./cmd/spookbench
peers="n1=127.0.0.1:$p,n2=127.0.0.1:$((p+1)),n3=127.0.0.1:$((p+2))"
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$d"; }
trap cleanup EXIT
for i in 0 1 2; do
  extra=(); [ $i = 0 ] && extra=(--pprof 127.0.0.1:$pp)
  "$bin" --listen 127.0.0.1:$((p+i)) --node-id n$((i+1)) --peers "$peers" --data "$d/n$i" --fsync batch --log-level error "${extra[@]}" &
  pids+=($!)
done
sleep 1.5
rss() { awk '/^VmRSS/ {print $2 * 1024}' /proc/${pids[0]}/status; }
heap() { curl -sf "http://127.0.0.1:$pp/debug/pprof/heap?debug=1$1" | awk -v f="$2" '$2 == f {print $4}'; }
before=$(rss); heap0=$(heap "&gc=1" HeapAlloc)
"$d/spookbench" load 127.0.0.1:$p "$keys"
sleep 3
after=$(rss)
live=$(heap "&gc=1" HeapAlloc)
sleep 10
settled=$(rss)
awk -v k="$keys" -v b="$before" -v a="$after" -v h0="$heap0" -v h="$live" -v s="$settled" \
  'BEGIN { printf "keys %d  rss/key %.0f  live-heap/key %.1f  rss/key-after-10s %.0f  (rss before %.0f MB, after %.0f MB)\n", k, (a-b)/k, (h-h0)/k, (s-b)/k, b/1048576, a/1048576 }'
