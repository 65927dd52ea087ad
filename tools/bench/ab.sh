#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside the test VM: two builds of the module against each other and
# against the same baselines, in one boot. Each round loads build A, runs
# causal_bench in ulp mode, unloads it, does the same with build B, and runs
# plain TCP and the protocol in user space once, so that drift in the host's
# load hits all four alike; prints the medians and each build's ratios.
#
#   tools/vm/run -k 6.12 -c 2 -t 1800 -- tools/bench/ab.sh OLD.ko NEW.ko
#
# A .ko path without a slash is taken from build/mod/<running kernel>/ of the
# worktree named, e.g. /work/base: ab.sh /work/base /work/main. Environment as
# in run.sh: CAUSAL_BENCH_RUNS (default 5), CAUSAL_BENCH_SIZES,
# CAUSAL_BENCH_CPU; CAUSAL_BENCH_AB_ARGS adds causal_bench options to the
# runs of A and B (e.g. "--recv-batch --send-batch 32"). The benchmark is
# this tree's build/tools/causal_bench for both builds, so only the module
# differs.
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
bench=build/tools/causal_bench
runs=${CAUSAL_BENCH_RUNS:-5}
sizes=${CAUSAL_BENCH_SIZES:-64 4096 65536}
rel=$(uname -r)

[ $# -eq 2 ] || { echo "usage: $0 A B (module or worktree)" >&2; exit 2; }
module_of() {
	if [ -d "$1" ]; then
		echo "$1/build/mod/$rel/kmod/causal.ko"
	else
		echo "$1"
	fi
}
mod_a=$(module_of "$1")
mod_b=$(module_of "$2")
for m in "$mod_a" "$mod_b"; do
	[ -f "$m" ] || { echo "ab.sh: $m missing" >&2; exit 1; }
done
[ -x "$bench" ] || { echo "ab.sh: $bench missing (make tools)" >&2; exit 1; }

. tools/bench/lib.sh
set_pin
results=$(mktemp)
trap 'rm -f "$results"; rmmod causal 2>/dev/null || true' EXIT

# run LABEL ARGS...: one causal_bench run, its lines tagged with LABEL.
run() {
	local label=$1
	shift
	"${pin[@]}" "$bench" --json "$@" |
		sed "s/\"mode\":\"[a-z]*\"/\"mode\":\"$label\"/" | tee -a "$results"
}

echo "kernel $rel, $(nproc) CPUs, $runs rounds per size, $where"
echo "A: $mod_a"
echo "B: $mod_b"
for size in $sizes; do
	for _ in $(seq "$runs"); do
		for build in A B; do
			if [ $build = A ]; then insmod "$mod_a"; else insmod "$mod_b"; fi
			# shellcheck disable=SC2086
			run "$build" --mode ulp --size "$size" ${CAUSAL_BENCH_AB_ARGS:-}
			unload_module
		done
		run tcp --mode tcp --size "$size"
		run user --mode user --size "$size"
	done
done

echo
echo "medians of $runs rounds, kernel $rel"
compare A B
compare tcp A
compare tcp B
compare user A
compare user B
