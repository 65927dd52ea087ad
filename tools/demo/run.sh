#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The demo scene, run as root where the module can be loaded (the test VM,
# or a real host): three hosts in network namespaces, A-C link 300 ms slow.
# A posts clips to B and C; B comments on each to C right after reading it.
# Over plain TCP, C sees comments before the clips they are about; with the
# causal ULP, each comment is held until its clip has been delivered.
#
# With the tools (BIN_DIR holding causald and causalctl), causald traces the
# scene: the demo shows `causalctl top` and writes the event log and a
# space-time diagram (SVG, HTML) to OUT_DIR.
#
# usage: tools/demo/run.sh MODULE.ko DEMO_NODE_BINARY [BIN_DIR OUT_DIR]
set -euo pipefail

mod=$1
node=$2
bin=${3:-}
keep=${4:-}
delay=${CAUSAL_DEMO_DELAY:-300ms}
out=$(mktemp -d)
daemon=

cleanup() {
	[ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
	for h in A B C; do ip netns del "demo$h" 2>/dev/null || true; done
	rm -rf "$out"
}
trap cleanup EXIT

grep -q '^causal ' /proc/modules || insmod "$mod"
modprobe veth
modprobe sch_netem

hosts=(A B C)
for h in "${hosts[@]}"; do
	ip netns add "demo$h"
	ip -n "demo$h" link set lo up
done
# Link i-j: 10.98.(3i+j).1 on the lower id, .2 on the higher (demo_node.c).
for pair in 0:1 0:2 1:2; do
	i=${pair%:*}
	j=${pair#*:}
	a=${hosts[$i]}
	b=${hosts[$j]}
	net=10.98.$((i * 3 + j))
	ip link add "to$b" netns "demo$a" type veth peer name "to$a" netns "demo$b"
	ip -n "demo$a" addr add "$net.1/24" dev "to$b"
	ip -n "demo$b" addr add "$net.2/24" dev "to$a"
	ip -n "demo$a" link set "to$b" up
	ip -n "demo$b" link set "to$a" up
done
ip netns exec demoA tc qdisc add dev toC root netem delay "$delay"
ip netns exec demoC tc qdisc add dev toA root netem delay "$delay"

scene() {
	local mode=$1
	ip netns exec demoC "$node" --mode "$mode" --node 2 >"$out/$mode" &
	local c=$!
	ip netns exec demoB "$node" --mode "$mode" --node 1 &
	local b=$!
	ip netns exec demoA "$node" --mode "$mode" --node 0
	wait "$b" "$c"
}

echo "causal demo on $(uname -r): A posts clips to B and C; B comments on each"
echo "clip to C as soon as it has read it; the A-C link has $delay of delay."
echo
if [ -n "$bin" ]; then
	mkdir -p "$keep"
	rm -f "$keep/events.jsonl"
	"$bin/causald" --audit --log "$keep/events.jsonl" --socket "$out/causald.sock" \
		--pidfile "$out/causald.pid" --listen none 2>"$out/causald.err" &
	daemon=$!
	for _ in $(seq 100); do [ -S "$out/causald.sock" ] && break; sleep 0.1; done
	[ -S "$out/causald.sock" ] || { cat "$out/causald.err" >&2; exit 1; }
fi
scene tcp
scene ulp
printf '%-62s | %s\n' "What C receives over plain TCP" "What C receives with the causal ULP"
printf '%-62s-+-%s\n' "$(printf '%.0s-' {1..62})" "$(printf '%.0s-' {1..62})"
paste -d'|' <(grep -E '^ ?[0-9]+\.' "$out/tcp" | awk '{ printf "%-62s\n", $0 }') \
	<(grep -E '^ ?[0-9]+\.' "$out/ulp" | sed 's/^/ /')
echo
grep -v -E '^ ?[0-9]+\.' "$out/ulp" || true
echo
# A clip that shows up after the comment about it is the reordering users see.
late_clips() {
	awk '/from B:/ { c++ } /from A:/ { if (c > a) bad++; a++ } END { print bad + 0 }' "$1"
}
echo "Plain TCP:  $(late_clips "$out/tcp") of 3 clips reached C after the comment about them."
echo "Causal ULP: $(late_clips "$out/ulp") of 3; each comment waited for its clip (hold times above)."
[ "$(late_clips "$out/ulp")" -eq 0 ]
[ -n "$bin" ] || exit 0

echo
echo "What causald saw (causalctl top):"
echo
"$bin/causalctl" top -n 1 -s "$out/causald.sock" | sed 's/^/  /'
kill -TERM "$daemon"
wait "$daemon"
daemon=
"$bin/causalctl" export --svg "$keep/space-time.svg" "$keep/events.jsonl"
"$bin/causalctl" export --html "$keep/space-time.html" "$keep/events.jsonl"
"$bin/causalctl" export --shiviz "$keep/shiviz.log" "$keep/events.jsonl"
echo
echo "Event log: $keep/events.jsonl (causalctl analyze $keep/events.jsonl)"
echo "Space-time diagram: $keep/space-time.svg, $keep/space-time.html"
echo "ShiViz log: $keep/shiviz.log (paste into https://bestchai.bitbucket.io/shiviz/)"
"$bin/causalctl" analyze "$keep/events.jsonl" | sed 's/^/  /'
