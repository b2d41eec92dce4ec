#!/usr/bin/env bash
# Profiles the real spookd process under redis-benchmark SET: starts a
# three-node cluster on 127.0.0.1 (node 1 with --pprof), takes a CPU
# profile of node 1 for the benchmark's run and an allocation profile
# (the difference of two /debug/pprof/allocs snapshots around it), and
# prints the top of each.
#   usage: scripts/profile-spookd.sh OUTDIR [BASEPORT] [FSYNC]
# Environment: SPOOK_PROFILE_REQUESTS (redis-benchmark -n, 200000),
# SPOOK_PROFILE_REPEAT (benchmark runs, 1), SPOOK_PROFILE_SECONDS (CPU
# profile length, 8; make it cover the runs).
# Needs redis-benchmark (Debian redis-tools). Stops the nodes it started.
set -eu
out=$1; p=${2:-7301}; fs=${3:-batch}; pp=$((p+10))
n=${SPOOK_PROFILE_REQUESTS:-200000}
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"
go build -C "$root" -o "$out/spookd" ./cmd/spookd
d=$(mktemp -d)
peers="n1=127.0.0.1:$p,n2=127.0.0.1:$((p+1)),n3=127.0.0.1:$((p+2))"
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$d"; }
trap cleanup EXIT
for i in 0 1 2; do
  extra=(); [ $i = 0 ] && extra=(--pprof 127.0.0.1:$pp)
  "$out/spookd" --listen 127.0.0.1:$((p+i)) --node-id n$((i+1)) --peers "$peers" --data "$d/n$i" --fsync "$fs" --log-level error "${extra[@]}" &
  pids+=($!)
done
sleep 1.5
curl -sf -o "$out/allocs-before.pb.gz" "http://127.0.0.1:$pp/debug/pprof/allocs"
# The CPU profile covers the benchmark (it is started first and runs a
# little longer than the benchmark takes on 2 cores).
secs=${SPOOK_PROFILE_SECONDS:-8}
curl -sf -o "$out/cpu.pb.gz" "http://127.0.0.1:$pp/debug/pprof/profile?seconds=$secs" &
cpu=$!
sleep 0.2
# SPOOK_PROFILE_REPEAT runs the benchmark that many times back to back
# in the profile's window, for more samples.
: > "$out/redis-benchmark.txt"
for _ in $(seq "${SPOOK_PROFILE_REPEAT:-1}"); do
  redis-benchmark -p $p -t set -n "$n" -c 50 -P 16 -r 100000 -q 2>/dev/null | tr '\r' '\n' | grep -E '^SET: [0-9]' | tee -a "$out/redis-benchmark.txt"
done
wait $cpu
curl -sf -o "$out/allocs-after.pb.gz" "http://127.0.0.1:$pp/debug/pprof/allocs"
go tool pprof -top -nodecount=40 "$out/spookd" "$out/cpu.pb.gz" > "$out/cpu-top.txt" 2>/dev/null
go tool pprof -top -cum -nodecount=60 "$out/spookd" "$out/cpu.pb.gz" > "$out/cpu-cum.txt" 2>/dev/null
go tool pprof -top -sample_index=alloc_space -nodecount=30 -base "$out/allocs-before.pb.gz" "$out/spookd" "$out/allocs-after.pb.gz" > "$out/alloc-space-top.txt" 2>/dev/null
go tool pprof -top -sample_index=alloc_objects -nodecount=30 -base "$out/allocs-before.pb.gz" "$out/spookd" "$out/allocs-after.pb.gz" > "$out/alloc-objects-top.txt" 2>/dev/null
echo "profiles and tops in $out"
