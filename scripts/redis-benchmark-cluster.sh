#!/usr/bin/env bash
# Runs redis-benchmark (-t set,incr -P 16 -c 16 -n 100000) against a
# three-node cluster of the given spookd binary on 127.0.0.1, so two
# builds can be compared side by side in one run.
#   usage: scripts/redis-benchmark-cluster.sh SPOOKD_BINARY always|batch|none BASEPORT
# Needs redis-benchmark (Debian redis-tools). Stops the nodes it started.
set -u
bin=$1; fs=$2; p=$3
d=$(mktemp -d)
peers="n1=127.0.0.1:$p,n2=127.0.0.1:$((p+1)),n3=127.0.0.1:$((p+2))"
for i in 0 1 2; do $bin --listen 127.0.0.1:$((p+i)) --node-id n$((i+1)) --peers $peers --data $d/n$i --fsync $fs --log-level error & done
sleep 1.5
redis-benchmark -p $p -t set,incr -P 16 -c 16 -n 100000 -r 100000 -d 32 -q 2>/dev/null | tr '\r' '\n' | grep -E '^(SET|INCR): [0-9]' | sed "s|^|$(basename $bin) $fs |"
pkill -f "$bin --listen 127.0.0.1:$p" ; pkill -f "$bin --listen 127.0.0.1:$((p+1))"; pkill -f "$bin --listen 127.0.0.1:$((p+2))"; sleep 0.5; rm -rf $d
