#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside the test VM: where one benchmark run spends its time. Loads
# the module, samples every CPU with perf's cpu-clock (QEMU emulates no PMU;
# under tools/vm/run -i guest time is instructions, so the profile counts
# instructions) while causal_bench runs pinned as in run.sh, and prints the
# hottest symbols, without and with their callees.
#
#   tools/vm/run -k 6.12 -i -- tools/bench/profile.sh --mode ulp --recv-batch --size 64
#
# Arguments go to causal_bench (the latency test is skipped unless -r is
# given). CAUSAL_PROFILE_TOP: symbols to print (default 40);
# CAUSAL_PROFILE_TREE: functions whose call trees to print, e.g.
# "causal_strp_done causal_write_frame".
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
bench=build/tools/causal_bench
mod=build/mod/$(uname -r)/kmod/causal.ko
rows=${CAUSAL_PROFILE_TOP:-40}

[ -x "$bench" ] || { echo "profile.sh: $bench missing (make bench)" >&2; exit 1; }
[ -f "$mod" ] || { echo "profile.sh: $mod missing (make modules-vm)" >&2; exit 1; }
command -v perf >/dev/null || { echo "profile.sh: perf missing (apt install linux-perf)" >&2; exit 1; }

. tools/bench/lib.sh

data=$(mktemp -d)
unload() {
	rm -rf "$data"
	unload_module
}
insmod "$mod"
trap unload EXIT
set_pin

echo 0 >/proc/sys/kernel/kptr_restrict
echo -1 >/proc/sys/kernel/perf_event_paranoid
perf record -q -a -g -e cpu-clock -F 10000 -o "$data/perf.data" -- \
	"${pin[@]}" "$bench" --rounds 0 "$@"
# head closes the pipe early.
set +o pipefail
echo
echo "by object, $where:"
perf report -q -i "$data/perf.data" --no-children --sort dso --stdio -g none 2>/dev/null |
	grep -v '^$' | head -n 10
echo
echo "self:"
perf report -q -i "$data/perf.data" --no-children --sort sym --stdio -g none 2>/dev/null |
	grep -v '^$' | head -n "$rows"
echo
echo "with callees:"
perf report -q -i "$data/perf.data" --children --sort sym --stdio -g none 2>/dev/null |
	grep -v '^$' | head -n "$rows"
echo
echo "the module's functions, with callees:"
perf report -q -i "$data/perf.data" --children --sort sym --stdio -g none 2>/dev/null |
	grep -E '\] (causal|tcp_read_done|tcp_cleanup_rbuf|sock_def|__wake_up)' | head -n "$rows"
# Per function asked for: the share of all samples under each of its direct
# callees (stacks from perf script, leaf first, one blank line apart).
for sym in ${CAUSAL_PROFILE_TREE:-}; do
	echo
	echo "$sym, by direct callee (% of all samples):"
	perf script -i "$data/perf.data" -F ip,sym 2>/dev/null |
		awk -v sym="$sym" '
		function flush(   i) {
			for (i = 1; i <= n; i++)
				if (f[i] == sym) {
					under[i > 1 ? f[i - 1] : "(self)"]++
					break
				}
			total++
			n = 0
		}
		NF > 1 { f[++n] = $2; next }
		{ flush() }
		END { if (n) flush()
		      for (c in under)
			printf "%7.2f%%  %s\n", 100 * under[c] / total, c }' |
		sort -rn | head -n 15
done
