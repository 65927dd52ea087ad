#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs on the host, whose kernel cannot load the module: the TCP programs of
# causald and causalctl trace work on any kernel with BTF, the causal ones
# are left out with a clear message.
#
# usage: selftests/tools_host.sh
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
bin=$top/build/bin
py=/usr/bin/python3
work=$(mktemp -d /tmp/causal-tools-host.XXXXXX)
pass=0
fail=0
n=0
daemon=

check() {
	local what=$1
	shift
	n=$((n + 1))
	if "$@" >"$work/out" 2>&1; then
		pass=$((pass + 1))
		echo "ok $n $what"
	else
		fail=$((fail + 1))
		echo "not ok $n $what"
		sed 's/^/# /' "$work/out" | tail -n 20
	fi
}
# Retries a condition for up to $1 seconds: causald flushes its log once a second.
within() {
	local secs=$1 i
	shift
	for i in $(seq $((secs * 10))); do
		"$@" && return 0
		sleep 0.1
	done
	"$@"
}
cleanup() {
	[ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

# Short TCP connections on loopback (default one), opened and closed.
connect_once() {
	"$py" -c '
import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(64)
for _ in range(int(sys.argv[1])):
    c = socket.create_connection(s.getsockname()); a, _ = s.accept()
    c.sendall(b"x" * 100); a.recv(100); c.close(); a.close()
s.close()' "${1:-1}"
}

echo "TAP version 13"
echo "# host kernel $(uname -r)"
if [ "$(id -u)" -ne 0 ] || [ ! -r /sys/kernel/btf/vmlinux ]; then
	echo "ok 1 # SKIP needs root and a kernel with BTF"
	echo "# Totals: pass:0 fail:0 xfail:0 xpass:0 skip:1 error:0"
	exit 0
fi

"$bin/causalctl" -j trace -e tcp --tcp-all >"$work/trace.jsonl" 2>"$work/trace.err" &
tracer=$!
"$bin/causald" --log "$work/events.jsonl" --socket "$work/causald.sock" \
	--pidfile "$work/causald.pid" --listen 127.0.0.1:0 --tcp-all \
	2>"$work/causald.err" &
daemon=$!
for _ in $(seq 100); do [ -S "$work/causald.sock" ] && break; sleep 0.1; done
sleep 1
connect_once
sleep 1.5
kill -INT "$tracer"
check "causalctl trace (TCP only) stops on SIGINT with status 0" wait "$tracer"
check "causalctl trace says the module is not loaded" grep -q 'not loaded' "$work/trace.err"
check "causalctl trace -j: the connection's state changes" "$py" -c '
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
states = [(e["old"], e["new"]) for e in evs if e["type"] == "tcp_state"]
assert ("SYN_SENT", "ESTABLISHED") in states, states
assert all(e["v"] == 1 and e["link"]["family"] == 4 for e in evs), evs
' "$work/trace.jsonl"
kill -TERM "$daemon"
check "causald (TCP only) stops on SIGTERM with status 0" wait "$daemon"
daemon=
check "causald said it traces TCP only" grep -q 'TCP events only' "$work/causald.err"
check "causald's log: meta line, then the connection" "$py" -c '
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
assert evs[0]["type"] == "meta" and evs[0]["boot_id"], evs[0]
assert any(e["type"] == "tcp_state" and e["new"] == "ESTABLISHED" for e in evs)
' "$work/events.jsonl"
# Rotation at --log-size, reopening on SIGHUP, the socket's permissions.
rm -f "$work"/events.jsonl*
"$bin/causald" --log "$work/events.jsonl" --log-size 1 --log-keep 2 \
	--socket "$work/causald.sock" --pidfile "$work/causald.pid" --listen none \
	--tcp-all 2>"$work/causald.err" &
daemon=$!
for _ in $(seq 100); do [ -S "$work/causald.sock" ] && break; sleep 0.1; done
connect_once 2000
sleep 1
check "the log rotates at --log-size" bash -c "[ -s '$work/events.jsonl.1' ] && [ \$(stat -c %s '$work/events.jsonl.1') -ge 1048576 ] && head -n 1 '$work/events.jsonl' | grep -q '\"type\":\"meta\"'"
check "no more rotated files than --log-keep" bash -c "[ ! -e '$work/events.jsonl.3' ]"
mv "$work/events.jsonl" "$work/moved.jsonl"
kill -HUP "$daemon"
sleep 0.5
connect_once
check "SIGHUP reopens the log" within 5 bash -c "head -n 1 '$work/events.jsonl' | grep -q '\"type\":\"meta\"' && grep -q tcp_state '$work/events.jsonl'"
check "the unix socket is root's only (mode 0600)" bash -c "[ \$(stat -c %a '$work/causald.sock') = 600 ]"
chmod 755 "$work"
check "causalctl top as a non-root user: a clear error" bash -c "setpriv --reuid=65534 --regid=65534 --clear-groups '$bin/causalctl' top -n 1 -s '$work/causald.sock' 2>&1 | grep -q 'permission denied'"
check "causalctl top -n 1 as root" bash -c "'$bin/causalctl' -j top -n 1 -s '$work/causald.sock' | '$py' -c 'import json, sys; assert json.load(sys.stdin)[\"version\"] == 1'"
check "a second causald fails and leaves the first's pid file" bash -c "! '$bin/causald' --log '$work/second.jsonl' --socket '$work/second.sock' --pidfile '$work/causald.pid' --listen none 2>'$work/second.err' && grep -q 'already running' '$work/second.err' && [ \"\$(cat '$work/causald.pid')\" = $daemon ]"
kill -TERM "$daemon"
check "causald stops on SIGTERM after SIGHUP" wait "$daemon"
daemon=

# A failed start (the HTTP port taken, a log it cannot open) removes the
# pid file it wrote.
"$py" -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
time.sleep(30)' "$work/port" &
holder=$!
for _ in $(seq 50); do [ -s "$work/port" ] && break; sleep 0.1; done
rm -f "$work/causald.pid"
check "causald: a failed start (port in use) leaves no pid file" bash -c "! '$bin/causald' --log '$work/failed.jsonl' --socket '$work/failed.sock' --pidfile '$work/causald.pid' --listen 127.0.0.1:\$(cat '$work/port') --tcp-all 2>'$work/failed.err' && grep -q 'Address already in use' '$work/failed.err' && [ ! -e '$work/causald.pid' ]"
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null
check "causald: a failed start (log not writable) leaves no pid file" bash -c "! '$bin/causald' --log '$work/no/such/dir/x.jsonl' --socket '$work/failed.sock' --pidfile '$work/causald.pid' --listen none 2>/dev/null && [ ! -e '$work/causald.pid' ]"

check "causalctl status without the module: a clear error" bash -c "'$bin/causalctl' status 2>&1 | grep -q 'is the causal module loaded'"
check "causalctl trace as a non-root user: a clear error" bash -c "setpriv --reuid=65534 --regid=65534 --clear-groups '$bin/causalctl' trace -d 1 2>&1 | grep -q 'needs root'"
check "the man pages format without warnings" bash -c "for m in '$top'/docs/man/*.8; do LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l \"\$m\" 2>&1 >/dev/null | grep . && exit 1; done; exit 0"
check "causald as a non-root user: a clear error" bash -c "setpriv --reuid=65534 --regid=65534 --clear-groups '$bin/causald' --listen none 2>&1 | grep -q 'must run as root'"

# why: the longest hold of a generated log whose link from node 0 to node 2
# is slow and lossy comes down to a message of node 0 that came late.
"$py" "$top/tools/gen_events.py" --nodes 4 --slow 0:2 --events 20000 \
	--out "$work/slow" >/dev/null 2>&1
check "analyze names the chain of the longest hold" bash -c "'$bin/causalctl' -j analyze '$work'/slow/*.log >'$work/slow.json'"
check "why: the chain ends at node 0's late message on the slow link" "$py" -c '
import json, subprocess, sys
bin, logs = sys.argv[1], sys.argv[3:]
h = json.load(open(sys.argv[2]))["longest_hold"]
assert h["root"] == "late" and "from node 0 " in h["cause"], h
out = subprocess.run([bin, "-j", "why", str(h["group"]), str(h["node"]),
                      "%d:%d" % (h["sender"], h["stamp"])] + logs,
                     capture_output=True, text=True, check=True).stdout
w = json.loads(out)
chain = w["chain"]
assert chain[0]["sender"] == h["sender"] and chain[-1]["sender"] == 0, chain
assert all("waited_for" in s for s in chain[:-1]) and "waited_for" not in chain[-1]
assert chain[-1]["transit_ns"] > chain[0]["transit_ns"], chain
assert w["cause"] == h["cause"] and w["next"], w
' "$bin/causalctl" "$work/slow.json" "$work"/slow/*.log
check "analyze: the slow link's incident found with the default buckets, with since and advice" "$py" -c '
import json, sys
r = json.load(open(sys.argv[1]))
an = [a for a in r["anomalies"] if a["peer"] == 0]
assert an and an[0]["buckets"] >= 4, r["anomalies"]
f = [f for f in r["findings"] if f["kind"] == "anomaly" and "node 0 " in f["text"]]
assert f and f[0]["since"].endswith(" UTC") and "causalctl export --around" in f[0]["advice"], f
assert not r["healthy"], r["healthy"]
' "$work/slow.json"
"$py" "$top/tools/gen_events.py" --nodes 4 --events 20000 --seed 3 \
	--out "$work/ok" >/dev/null 2>&1
check "analyze: no findings in healthy generated runs of 5 more seeds" bash -c "
for s in 11 12 13 14 15; do
	'$py' '$top/tools/gen_events.py' --nodes 4 --seed \$s --out '$work/ok'\$s >/dev/null 2>&1 &&
	'$bin/causalctl' -j analyze '$work/ok'\$s/*.log | '$py' -c 'import json, sys; f = json.load(sys.stdin)[\"findings\"]; assert not f, f' || exit 1
done"
check "analyze: a healthy generated run has no findings and says it is healthy" bash -c "
'$bin/causalctl' analyze '$work'/ok/*.log >'$work/ok.txt' &&
sed -n '/^Findings/,/^\$/p' '$work/ok.txt' | grep -q '^  group 7 is healthy: ' &&
! sed -n '/^Findings/,/^\$/p' '$work/ok.txt' | grep -q '^  1\. ' &&
'$bin/causalctl' -j analyze '$work'/ok/*.log | '$py' -c 'import json, sys; r = json.load(sys.stdin); assert r[\"findings\"] == [] and len(r[\"healthy\"]) == 1, r[\"findings\"]'"
check "analyze: a missing host's log is named" bash -c "
'$bin/causalctl' analyze \$(ls '$work'/ok/*.log | grep -v h2.log) | grep -q 'node 2 of group 7: no log of its host is given; [0-9]* of its messages arrived without a send event; its address, from node [0-9]'\''s channel: 10.0.0.3'"
check "analyze --group 99 not in the logs: exit 2 naming the groups" bash -c "
'$bin/causalctl' analyze --group 99 '$work'/ok/*.log >/dev/null 2>'$work/err'; [ \$? -eq 2 ] && grep -q 'group 99 is not in these logs (groups: 7)' '$work/err'"
check "analyze of logs without events: exit 2" bash -c "
: >'$work/empty.log'; '$bin/causalctl' analyze '$work/empty.log' >/dev/null 2>&1; [ \$? -eq 2 ]"
check "why: a message not in the logs is an error (exit 2)" bash -c "'$bin/causalctl' why 7 2 3:999999 '$work'/slow/*.log 2>/dev/null; [ \$? -eq 2 ]"

# Logs compressed and on standard input read as the plain files: the same
# lines and events of each log, none bad.
gzip -c "$work/slow/h0.log" >"$work/h0.log.gz"
cat >"$work/same_logs.py" <<'EOF'
import json, subprocess, sys
bin, stdin, args = sys.argv[1], sys.argv[2], sys.argv[3:]
i = args.index("--")
def run(logs, inp):
    # Standard input a pipe, as from cat.
    p = subprocess.run([bin, "-j", "analyze"] + logs,
                       input=open(inp, "rb").read(), capture_output=True,
                       check=True)
    return [(l["host"], l["lines"], l["events"], l["bad"])
            for l in json.loads(p.stdout)["logs"]]
want, got = run(args[:i], "/dev/null"), run(args[i + 1:], stdin)
assert want == got and all(x[3] == 0 for x in got), (want, got)
EOF
check "causalctl analyze x.gz: the events of the plain log, none bad" "$py" "$work/same_logs.py" "$bin/causalctl" /dev/null "$work/slow/h0.log" -- "$work/h0.log.gz"
check "cat log | causalctl analyze -: the events of the file" "$py" "$work/same_logs.py" "$bin/causalctl" "$work/slow/h1.log" "$work/slow/h0.log" "$work/slow/h1.log" -- "$work/h0.log.gz" -
check "gzip | causalctl analyze -: the events of the plain log" "$py" "$work/same_logs.py" "$bin/causalctl" "$work/h0.log.gz" "$work/slow/h0.log" -- -
check "causalctl analyze - -: an error (exit 2)" bash -c "cat '$work/slow/h0.log' | '$bin/causalctl' analyze - - 2>'$work/twice.err'; [ \$? -eq 2 ] && grep -q 'standard input given twice' '$work/twice.err'"
head -c $(($(stat -c %s "$work/h0.log.gz") / 2)) "$work/h0.log.gz" >"$work/cut.log.gz"
check "causalctl analyze of a cut .gz: an error that says so (exit 2)" bash -c "'$bin/causalctl' analyze '$work/cut.log.gz' 2>'$work/cut.err'; [ \$? -eq 2 ] && grep -q 'cut.log.gz: unexpected end of file' '$work/cut.err'"

echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:0 error:0"
[ $fail -eq 0 ]
