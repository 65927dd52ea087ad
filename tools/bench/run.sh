#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside the test VM: load the module built for the running kernel, run
# causal_bench for each size in tcp and ulp mode, alternating so that drift in
# the host's load hits both modes alike, print the medians, unload.
#
#   tools/vm/run -k 6.1 -c 2 -t 900 -- tools/bench/run.sh
#
# Environment (tools/vm/run passes CAUSAL_* through):
#   CAUSAL_BENCH_RUNS   runs per mode and size (default 3)
#   CAUSAL_BENCH_SIZES  message sizes (default "64 4096 65536")
#   CAUSAL_BENCH_CPU    CPU both threads are pinned to (default the last);
#                       empty leaves them to the scheduler. Under QEMU's
#                       software emulation, waking an idle vCPU takes
#                       milliseconds and drowns the path being measured.
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
bench=build/tools/causal_bench
runs=${CAUSAL_BENCH_RUNS:-3}
sizes=${CAUSAL_BENCH_SIZES:-64 4096 65536}
cpu=${CAUSAL_BENCH_CPU-$(($(nproc) - 1))}
rel=$(uname -r)
mod=build/mod/$rel/kmod/causal.ko

[ -x "$bench" ] || { echo "run.sh: $bench missing (make bench)" >&2; exit 1; }
[ -f "$mod" ] || { echo "run.sh: $mod missing (make modules-vm)" >&2; exit 1; }

results=$(mktemp)
# Sockets drop their module reference shortly after close(), not at once.
unload() {
	rm -f "$results"
	for _ in $(seq 50); do
		rmmod causal 2>/dev/null && return 0
		sleep 0.1
	done
	rmmod causal
}
insmod "$mod"
trap unload EXIT

pin=()
where="not pinned"
if [ -n "$cpu" ]; then
	pin=(taskset -c "$cpu")
	where="pinned to CPU $cpu"
fi

echo "kernel $rel, $(nproc) CPUs, $runs runs per mode and size, $where"
for size in $sizes; do
	for _ in $(seq "$runs"); do
		for mode in tcp ulp; do
			"${pin[@]}" "$bench" --json --mode "$mode" --size "$size" |
				tee -a "$results"
		done
	done
done

# median TEST MODE SIZE FIELD: the median of FIELD over the matching runs.
median() {
	grep -F "\"test\":\"$1\",\"mode\":\"$2\",\"size\":$3," "$results" |
		sed -n "s/.*\"$4\":\([0-9.]*\).*/\1/p" | sort -g |
		awk '{ v[NR] = $1 }
		     END { if (!NR) exit 1
			   print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'
}

row() {
	printf '%8s %12s %12s %8s %12s %12s %8s\n' "$@"
}

echo
echo "medians of $runs runs, kernel $rel"
row size "tcp msgs/s" "ulp msgs/s" ulp/tcp "tcp p99 us" "ulp p99 us" ulp/tcp
for size in $sizes; do
	tt=$(median throughput tcp "$size" msgs_per_s)
	ut=$(median throughput ulp "$size" msgs_per_s)
	tl=$(median latency tcp "$size" p99_us)
	ul=$(median latency ulp "$size" p99_us)
	row "$size" "$tt" "$ut" "$(ratio "$ut" "$tt")" "$tl" "$ul" "$(ratio "$ul" "$tl")"
done

echo
row size "tcp MB/s" "ulp MB/s" ulp/tcp "tcp p50 us" "ulp p50 us" ulp/tcp
for size in $sizes; do
	tt=$(median throughput tcp "$size" mb_per_s)
	ut=$(median throughput ulp "$size" mb_per_s)
	tl=$(median latency tcp "$size" p50_us)
	ul=$(median latency ulp "$size" p50_us)
	row "$size" "$tt" "$ut" "$(ratio "$ut" "$tt")" "$tl" "$ul" "$(ratio "$ul" "$tl")"
done
