# SPDX-License-Identifier: GPL-2.0
# Shared by run.sh and ab.sh: pinning, medians and tables over causal_bench's
# --json lines.
# The caller sets $results (the file of JSON lines) and $sizes.

# set_pin: $pin, the command prefix that pins a run to CAUSAL_BENCH_CPU
# (default the last CPU; see run.sh), and $where, which says so.
cpu=${CAUSAL_BENCH_CPU-$(($(nproc) - 1))}
set_pin() {
	pin=()
	where="not pinned"
	if [ -n "$cpu" ]; then
		pin=(taskset -c "$cpu")
		where="pinned to CPU $cpu"
	fi
}

# median TEST MODE SIZE FIELD: the median of FIELD over the matching runs.
median() {
	{ grep -F "\"test\":\"$1\",\"mode\":\"$2\",\"size\":$3," "$results" || true; } |
		sed -n "s/.*\"$4\":\([0-9.]*\).*/\1/p" | sort -g |
		awk '{ v[NR] = $1 }
		     END { if (!NR) { print "-"; exit }
			   print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# ratio A B: A/B, or "-" where either was not measured.
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b <= 0) print "-"
					 else printf "%.2f", a / b }'
}

row() {
	printf '%8s %12s %12s %8s %12s %12s %8s\n' "$@"
}

# compare A B: medians of mode B against mode A, per size.
compare() {
	local a=$1 b=$2 ta tb la lb
	echo
	row size "$a msgs/s" "$b msgs/s" "$b/$a" "$a p99 us" "$b p99 us" "$b/$a"
	for size in $sizes; do
		ta=$(median throughput "$a" "$size" msgs_per_s)
		tb=$(median throughput "$b" "$size" msgs_per_s)
		la=$(median latency "$a" "$size" p99_us)
		lb=$(median latency "$b" "$size" p99_us)
		row "$size" "$ta" "$tb" "$(ratio "$tb" "$ta")" "$la" "$lb" "$(ratio "$lb" "$la")"
	done
}

. tools/lib/module.sh

# explain MODE...: beside the ratios, what explains them: per message, TCP
# segments, context switches and CPU time of sender and reader (medians of
# the throughput runs).
explain() {
	local mode size
	echo
	printf '%-10s %6s %9s %9s %9s %10s %10s\n' mode size segs/msg "tx cs" \
		"rx cs" "tx cpu us" "rx cpu us"
	for size in $sizes; do
		for mode in "$@"; do
			printf '%-10s %6s %9s %9s %9s %10s %10s\n' "$mode" "$size" \
				"$(median throughput "$mode" "$size" segs_per_msg)" \
				"$(median throughput "$mode" "$size" tx_cs_per_msg)" \
				"$(median throughput "$mode" "$size" rx_cs_per_msg)" \
				"$(median throughput "$mode" "$size" tx_cpu_us)" \
				"$(median throughput "$mode" "$size" rx_cpu_us)"
		done
	done
}
