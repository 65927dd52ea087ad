#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside the test VM: causald through a burst of about a million events
# (a 64-byte message stream in order: a send and a deliver event per message,
# no arrive event, since each is ready when it comes). Prints what
# causald saw, what the kernel dropped and causald's peak resident memory.
#
#   tools/vm/run -k 6.12 -t 900 -- tools/bench/burst.sh [MESSAGES]
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
msgs=${1:-500000}
work=$(mktemp -d /tmp/burst.XXXXXX)
rel=$(uname -r)

insmod "build/mod/$rel/kmod/causal.ko"
build/bin/causald --audit --log "$work/events.jsonl" --log-size 64 --log-keep 2 \
	--socket "$work/sock" --pidfile "$work/pid" --listen 127.0.0.1:9477 \
	2>"$work/err" &
daemon=$!
for _ in $(seq 100); do [ -S "$work/sock" ] && break; sleep 0.1; done

start=$(date +%s.%N)
taskset -c 1 build/tools/causal_bench --mode ulp --size 64 -n "$msgs" -r 0
# Let causald drain what the ring buffer still holds.
sleep 2
end=$(date +%s.%N)
metrics=$(curl -s "http://127.0.0.1:9477/metrics")
hwm=$(awk '/VmHWM/ { print $2 }' "/proc/$daemon/status")
rss=$(awk '/VmRSS/ { print $2 }' "/proc/$daemon/status")
kill -TERM "$daemon"
wait "$daemon"

seen=$(echo "$metrics" | awk '/^causald_events_total/ { s += $2 } END { print s }')
lost=$(echo "$metrics" | awk '/^causald_events_lost_total/ { print $2 }')
drops=$(echo "$metrics" | awk '/^causald_table_drops_total/ { print $2 }')
logged=$(cat "$work"/events.jsonl* | grep -c '"ts"' || true)
echo "kernel $rel: $msgs messages, $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }') s"
echo "events seen by causald: $seen, dropped by the kernel (ring buffer full): $lost"
echo "expected about $((2 * msgs)); seen + dropped = $((seen + lost))"
echo "table drops: $drops; lines in the logs (with rotation): $logged"
echo "causald resident memory: peak $((hwm / 1024)) MiB, at the end $((rss / 1024)) MiB"
rmmod causal 2>/dev/null || true
rm -rf "$work"
