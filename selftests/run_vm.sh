#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside the test VM: load the module, run every selftest binary, unload.
# The module's own life cycle (load, refused and clean unload, reload) is a
# suite of its own so that a leak or a stuck reference counts as a failure.
# On a kernel with kmemleak (the debugging kernel) a leak the module's code
# allocated fails that suite too.
#
# usage: selftests/run_vm.sh MODULE.ko SELFTEST_DIR [TEST...]
set -u

. "$(dirname "$0")/../tools/lib/module.sh"

mod=$1
dir=$2
shift 2

pass=0
fail=0
n=0
check() {
	local what=$1
	shift
	n=$((n + 1))
	if "$@"; then
		pass=$((pass + 1))
		echo "ok $n module: $what"
	else
		fail=$((fail + 1))
		echo "not ok $n module: $what"
	fi
}
lifecycle_totals() {
	echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:0 error:0"
}

kmemleak=/sys/kernel/debug/kmemleak
# Only what the tests leak: forget what boot left unreferenced.
[ -w "$kmemleak" ] && echo clear >"$kmemleak"

# Two scans, as Documentation/dev-tools/kmemleak.rst advises against
# transient false positives; run while the module is loaded, so that its
# frames in the reports have names.
no_module_leaks() {
	local report
	echo scan >"$kmemleak" && echo scan >"$kmemleak" || return 1
	report=$(cat "$kmemleak")
	if grep -q '\[causal\]' <<<"$report"; then
		echo "$report" | sed 's/^/# /'
		return 1
	fi
	[ -z "$report" ] || echo "# kmemleak: $(grep -c '^unreferenced object' <<<"$report") objects outside the module"
	return 0
}

echo "TAP version 13"
check "insmod $(basename "$mod")" insmod "$mod"
if [ $fail -ne 0 ]; then
	lifecycle_totals
	exit 1
fi

rc=0
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=("$dir"/causal_*)
for t in "${tests[@]}"; do
	[ -x "$t" ] || continue
	echo "# selftest: $(basename "$t")"
	"$t" || rc=1
done

[ -w "$kmemleak" ] && check "kmemleak: nothing the module allocated leaked" no_module_leaks

check "rmmod after the tests" unload_module
check "reload" insmod "$mod"
check "rmmod after reload" rmmod causal
lifecycle_totals
[ $fail -eq 0 ] || rc=1
exit $rc
