# SPDX-License-Identifier: GPL-2.0
# Sourced by the drivers that run several kselftest suites (tools/check,
# tools/fuzz/vm): add up each suite's "# Totals:" lines into passed, failed
# and skipped, and keep the names of what failed for the end of the log
# (CI shows only its tail).

passed=0
failed=0
skipped=0
failures=()

# account NAME LOG RC: add one suite's results. A suite that exits non-zero
# without reporting a failing test (a crash, a kernel WARN, a timeout)
# counts as one failure.
account() {
	local name=$1 log=$2 rc=$3 p=0 f=0 s=0 line
	while read -r line; do
		[[ $line =~ pass:([0-9]+)\ fail:([0-9]+).*skip:([0-9]+) ]] || continue
		p=$((p + BASH_REMATCH[1]))
		f=$((f + BASH_REMATCH[2]))
		s=$((s + BASH_REMATCH[3]))
	done < <(grep -a '^# Totals: ' "$log")
	while read -r line; do
		failures+=("$name: ${line#"${line%%not ok*}"}")
	done < <(grep -a '^ *not ok ' "$log" | grep -v '# SKIP')
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "$name exited $rc without a failing test: counted as one failure"
		failures+=("$name: exited $rc without a failing test; its log ended:")
		# A crash leaves no test to name: its last lines (the runner's
		# console tail) are the only trace CI keeps.
		while IFS= read -r line; do
			failures+=("  $line")
		done < <(tail -n 60 "$log")
		f=1
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + s))
	echo "$name: $p passed, $f failed, $s skipped"
}

# What failed, one line each, just before the closing line.
report_failures() {
	local line

	for line in "${failures[@]}"; do
		case $line in
		"  "*) echo "#   $line" ;;	# a crashed suite's last lines
		*) echo "# failed: $line" ;;
		esac
	done
}
