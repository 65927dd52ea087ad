#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside the test VM: load the module built for the running kernel, run
# causal_bench for each size in tcp, ulp and user (the protocol in user space)
# mode, and in ulp mode with causald tracing every event ("traced"),
# alternating so that drift in the host's load hits every mode alike, print
# the medians, unload.
#
#   tools/vm/run -k 6.1 -c 2 -t 900 -- tools/bench/run.sh
#
# Environment (tools/vm/run passes CAUSAL_* through):
#   CAUSAL_BENCH_RUNS   runs per mode and size (default 3)
#   CAUSAL_BENCH_SIZES  message sizes (default "64 4096 65536")
#   CAUSAL_BENCH_CPU    CPU both processes are pinned to (default the last);
#                       empty leaves them to the scheduler. Under QEMU's
#                       software emulation, waking an idle vCPU takes
#                       milliseconds and drowns the path being measured.
#                       causald runs on the other CPUs.
#   CAUSAL_BENCH_MODES  default "tcp ulp user mmsg traced" (user: the protocol
#                       in user space over epoll; mmsg: ulp with a reader that
#                       takes up to 64 messages per recvmmsg(); traced needs
#                       build/bin/causald)
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
bench=build/tools/causal_bench
runs=${CAUSAL_BENCH_RUNS:-3}
sizes=${CAUSAL_BENCH_SIZES:-64 4096 65536}
rel=$(uname -r)
mod=build/mod/$rel/kmod/causal.ko

[ -x "$bench" ] || { echo "run.sh: $bench missing (make bench)" >&2; exit 1; }
[ -f "$mod" ] || { echo "run.sh: $mod missing (make modules-vm)" >&2; exit 1; }

. tools/bench/lib.sh

modes=${CAUSAL_BENCH_MODES:-tcp ulp user mmsg traced}
results=$(mktemp)
daemon=
unload() {
	[ -z "$daemon" ] || kill "$daemon" 2>/dev/null
	rm -f "$results"
	unload_module
}
insmod "$mod"
trap unload EXIT

set_pin

# causald with its log on the guest's tmpfs, away from the pinned CPU.
traced_start() {
	local others
	others=$(seq -s, 0 $(($(nproc) - 1)) | sed "s/\b$cpu\b//; s/,,/,/; s/^,//; s/,$//")
	rm -rf /tmp/bench-causald
	mkdir -p /tmp/bench-causald
	${others:+taskset -c "$others"} build/bin/causald --log /tmp/bench-causald/events.jsonl \
		--socket /tmp/bench-causald/sock --pidfile /tmp/bench-causald/pid \
		--listen none 2>/tmp/bench-causald/err &
	daemon=$!
	for _ in $(seq 100); do [ -S /tmp/bench-causald/sock ] && return; sleep 0.1; done
	cat /tmp/bench-causald/err >&2
	exit 1
}

traced_stop() {
	kill -TERM "$daemon"
	wait "$daemon"
	daemon=
	grep -h 'lost' /tmp/bench-causald/events.jsonl | tail -n 1 >&2 || true
}

echo "kernel $rel, $(nproc) CPUs, $runs runs per mode and size, $where"
for size in $sizes; do
	for _ in $(seq "$runs"); do
		for mode in $modes; do
			[ "$mode" = traced ] && traced_start
			case $mode in
			traced) args=(--mode ulp) ;;
			mmsg) args=(--mode ulp --batch 64) ;;
			*) args=(--mode "$mode") ;;
			esac
			"${pin[@]}" "$bench" --json "${args[@]}" --size "$size" |
				sed "s/\"mode\":\"ulp\"/\"mode\":\"$mode\"/" | tee -a "$results"
			[ "$mode" = traced ] && traced_stop
		done
	done
done

has() { [[ " $modes " == *" $1 "* ]]; }

echo
echo "medians of $runs runs, kernel $rel"
if has tcp && has ulp; then
	compare tcp ulp
	echo
	row size "tcp MB/s" "ulp MB/s" ulp/tcp "tcp p50 us" "ulp p50 us" ulp/tcp
	for size in $sizes; do
		tt=$(median throughput tcp "$size" mb_per_s)
		ut=$(median throughput ulp "$size" mb_per_s)
		tl=$(median latency tcp "$size" p50_us)
		ul=$(median latency ulp "$size" p50_us)
		row "$size" "$tt" "$ut" "$(ratio "$ut" "$tt")" "$tl" "$ul" "$(ratio "$ul" "$tl")"
	done
fi
if has user && has ulp; then
	compare user ulp
fi
if has user && has mmsg; then
	compare user mmsg
fi
if has ulp && has traced; then
	compare ulp traced
fi
