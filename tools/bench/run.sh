#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside the test VM: load the module built for the running kernel, run
# causal_bench for each size in every mode, alternating so that drift in the
# host's load hits every mode alike, print the medians, their ratios and what
# explains them (segments, context switches and CPU per message), unload.
#
#   tools/vm/run -k 6.1 -c 2 -t 1800 -- tools/bench/run.sh
#
# Modes: the baselines, plain TCP framed as a careful program frames it
# ("tcp") and the causal protocol in user space over epoll ("user"), each
# also with 32 messages per send call ("_sb"); the ULP one message per
# recv() ("ulp"), with batched receive ("ulp_rb") and with batched receive
# and sendmmsg() of 32 corked messages ("ulp_rb_sb"); "traced" is ulp with
# causald in its default mode, "audited" with causald --audit (every
# event), "audited_rb" ulp_rb with causald --audit (not run by default);
# "mmsg" (not run by default) ulp read with
# recvmmsg() of 64. The _sb modes skip the latency test, which sends one
# message at a time.
#
# Environment (tools/vm/run passes CAUSAL_* through):
#   CAUSAL_BENCH_RUNS   runs per mode and size (default 3)
#   CAUSAL_BENCH_SIZES  message sizes (default "64 4096 65536")
#   CAUSAL_BENCH_CPU    CPU both processes are pinned to (default the last);
#                       empty leaves them to the scheduler. Under QEMU's
#                       software emulation, waking an idle vCPU takes
#                       milliseconds and drowns the path being measured.
#                       causald runs on the other CPUs.
#   CAUSAL_BENCH_MODES  default "tcp tcp_sb user user_sb ulp ulp_rb
#                       ulp_rb_sb traced audited" (those two need
#                       build/bin/causald)
#   CAUSAL_BENCH_MESH   nodes of the mesh scene, run with 64-byte unicasts
#                       and broadcasts after the modes (default 8, 0: none)
#   CAUSAL_BENCH_GROUPS group sizes the pair declares for the header's cost:
#                       ulp_rb with 64-byte messages, each frame carrying
#                       that many clock entries (default "2 8 16 64", empty:
#                       none)
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

modes=${CAUSAL_BENCH_MODES:-tcp tcp_sb user user_sb ulp ulp_rb ulp_rb_sb traced audited}
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

# causald (with --audit for "audited") with its log on the guest's tmpfs,
# away from the pinned CPU.
traced_start() {
	local others
	others=$(seq -s, 0 $(($(nproc) - 1)) | sed "s/\b$cpu\b//; s/,,/,/; s/^,//; s/,$//")
	rm -rf /tmp/bench-causald
	mkdir -p /tmp/bench-causald
	${others:+taskset -c "$others"} build/bin/causald --log /tmp/bench-causald/events.jsonl \
		--socket /tmp/bench-causald/sock --pidfile /tmp/bench-causald/pid \
		--listen none $([ "$1" != traced ] && echo --audit) \
		2>/tmp/bench-causald/err &
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
			case $mode in traced | audited*) traced_start "$mode" ;; esac
			case $mode in
			tcp | user | ulp) args=(--mode "$mode") ;;
			tcp_sb | user_sb)
				args=(--mode "${mode%_sb}" --send-batch 32 --rounds 0) ;;
			ulp_rb) args=(--mode ulp --recv-batch) ;;
			ulp_rb_sb)
				args=(--mode ulp --recv-batch --send-batch 32 --rounds 0) ;;
			traced | audited) args=(--mode ulp) ;;
			audited_rb) args=(--mode ulp --recv-batch) ;;
			mmsg) args=(--mode ulp --batch 64) ;;
			*) echo "run.sh: unknown mode $mode" >&2; exit 2 ;;
			esac
			"${pin[@]}" "$bench" --json "${args[@]}" --size "$size" |
				sed "s/\"mode\":\"[a-z]*\"/\"mode\":\"$mode\"/" | tee -a "$results"
			case $mode in traced | audited*) traced_stop ;; esac
		done
	done
done

mesh=${CAUSAL_BENCH_MESH:-8}
if [ "$mesh" -gt 0 ]; then
	for _ in $(seq "$runs"); do
		for cast in unicast broadcast; do
			"${pin[@]}" "$bench" --json --mesh "$mesh" --size 64 \
				$([ $cast = broadcast ] && echo --broadcast) |
				tee -a "$results"
		done
	done
fi

groups=${CAUSAL_BENCH_GROUPS-2 8 16 64}
for _ in $(seq "$runs"); do
	for n in $groups; do
		"${pin[@]}" "$bench" --json --mode ulp --recv-batch --rounds 0 \
			--size 64 --nodes "$n" |
			sed "s/\"mode\":\"ulp\"/\"mode\":\"group$n\"/" | tee -a "$results"
	done
done

has() { [[ " $modes " == *" $1 "* ]]; }

echo
echo "medians of $runs runs, kernel $rel"
for pair in "tcp ulp" "tcp ulp_rb" "user ulp" "user ulp_rb" "tcp_sb ulp_rb_sb" \
	    "user_sb ulp_rb_sb" "ulp traced" "ulp audited" "ulp_rb audited_rb" \
	    "user mmsg"; do
	# shellcheck disable=SC2086
	set -- $pair
	if has "$1" && has "$2"; then
		compare "$1" "$2"
	fi
done
# shellcheck disable=SC2086
explain $modes
if [ "$mesh" -gt 0 ]; then
	echo
	printf '%-10s %6s %12s %14s %18s\n' mesh nodes msgs/s "clocks/send" "clocks/channel/ms"
	for cast in unicast broadcast; do
		printf '%-10s %6s %12s %14s %18s\n' "$cast" "$mesh" \
			"$(median mesh "$cast" 64 msgs_per_s)" \
			"$(median mesh "$cast" 64 clocks_per_send)" \
			"$(median mesh "$cast" 64 clocks_per_channel_ms)"
	done
fi
if [ -n "$groups" ]; then
	echo
	printf '%-8s %7s %12s %9s %10s %10s %10s\n' group "wire B" msgs/s "vs first" \
		segs/msg "tx cpu us" "rx cpu us"
	first=
	for n in $groups; do
		t=$(median throughput "group$n" 64 msgs_per_s)
		first=${first:-$t}
		printf '%-8s %7s %12s %9s %10s %10s %10s\n' "$n" \
			"$(median throughput "group$n" 64 wire_bytes)" "$t" \
			"$(ratio "$t" "$first")" "$(median throughput "group$n" 64 segs_per_msg)" \
			"$(median throughput "group$n" 64 tx_cpu_us)" \
			"$(median throughput "group$n" 64 rx_cpu_us)"
	done
fi
