#!/usr/bin/env bash
# Prints the simulator's scale table (docs/BENCHMARKS.md, "Scale"): the
# per-update figures of calm runs (no faults, latencies kept) at 10, 100
# and 1,000 replicas, one region and three, next to memberlist's analytic
# retransmit count. Each row is the mean over its seeds of what
# `spook sim --figures` prints (sim/doc.go defines every column); the
# percentiles are the largest per-seed p99 (-1: some update never got
# there; a seed that fails its checks is flagged FAILED). Memory
# is the whole simulator's peak RSS, all replicas and every link's codec
# state; CPU is user + system seconds. SIM_SCALE_MAX=100 stops before the
# 1,000-replica rows (most of the run's time and memory).
#
#   make sim-scale                     # the whole table
#   SIM_SCALE_MAX=100 make sim-scale   # 10 and 100 only (about a minute)
set -euo pipefail
cd "$(dirname "$0")/.."
max=${SIM_SCALE_MAX:-1000}
bin=$(mktemp -d)/spook
trap 'rm -rf "$(dirname "$bin")"' EXIT
go build -o "$bin" ./cmd/spook

# rows: replicas regions seeds steps
rows=(
  "10 1 3 1000"
  "10 3 3 1000"
  "100 1 2 1000"
  "100 3 2 1000"
  "1000 1 1 100"
  "1000 3 1 100"
)

# memberlist: every node retransmits each update RetransmitMult (4) ×
# ⌈log10(n+1)⌉ times, so the cluster sends n × that many copies.
memberlist() { awk -v n="$1" 'BEGIN { l = log(n + 1) / log(10); c = int(l); if (c < l) c++; printf "%d", n * 4 * c }'; }

echo "| replicas | regions | seeds×steps | msgs/update | payload copies/update | origin sends/update | bytes/update | vector bytes/msg | cross-region bytes/update | convergence p99 (ticks) | collapse p99 (ticks) | memberlist copies/update (analytic) | max RSS (MiB) | CPU (s) |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for row in "${rows[@]}"; do
  read -r n k seeds steps <<<"$row"
  [ "$n" -le "$max" ] || continue
  out=$(mktemp)
  rss=- cpu=-
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -f "maxrss_kb=%M cpu_s=%U+%S" -o "$out.time" "$bin" sim --seed 1 --seeds "$seeds" --steps "$steps" \
      --replicas "$n" --regions "$k" --calm --figures --jobs 1 >"$out" || true
    rss=$(awk '{ split($1, a, "="); printf "%d", a[2] / 1024 }' "$out.time")
    cpu=$(awk '{ split($2, a, "="); split(a[2], b, "+"); printf "%.0f", b[1] + b[2] }' "$out.time")
  else
    "$bin" sim --seed 1 --seeds "$seeds" --steps "$steps" --replicas "$n" --regions "$k" --calm --figures --jobs 1 >"$out" || true
  fi
  awk -v n="$n" -v k="$k" -v seeds="$seeds" -v steps="$steps" -v ml="$(memberlist "$n")" -v rss="$rss" -v cpu="$cpu" '
    /^seed=/ {
      rows++
      for (i = 1; i <= NF; i++) {
        split($i, kv, "="); v[kv[1]] += kv[2]
        if (!(kv[1] in m) || kv[2] > m[kv[1]]) m[kv[1]] = kv[2]
        if (kv[2] == -1) never[kv[1]] = 1
      }
      if ($0 ~ /ok=false/) failed++
    }
    END {
      if (rows == 0) { print "| " n " | " k " | no result |"; exit 1 }
      printf "| %d | %d | %d×%d | %.1f | %.1f | %.1f | %.0f | %.1f | %.0f | %d | %d | %d | %s | %s |%s\n",
        n, k, seeds, steps, v["msgs_per_update"] / rows, v["payload_copies_per_update"] / rows,
        v["origin_sends_per_update"] / rows, v["bytes_per_update"] / rows, v["vector_bytes_per_msg"] / rows,
        v["cross_region_bytes_per_update"] / rows,
        ("convergence_ticks_p99" in never) ? -1 : m["convergence_ticks_p99"],
        ("collapse_ticks_p99" in never) ? -1 : m["collapse_ticks_p99"], ml, rss, cpu,
        failed ? " (" failed " seeds FAILED)" : ""
    }' "$out"
  rm -f "$out" "$out.time"
done
