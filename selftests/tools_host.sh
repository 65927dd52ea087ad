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
assert evs[0]["type"] == "meta", evs[0]
evs = evs[1:]
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

# The CLI as bpftool's and libbpf-tools' users expect it (issue 12).
ctl=$bin/causalctl
# exit_is STATUS COMMAND...: COMMAND exits with STATUS.
exit_is() {
	local want=$1
	shift
	"$@"
	[ $? -eq "$want" ]
}
check "the module's MODULE_VERSION is the tools' version" bash -c "v=\$('$ctl' --version | sed -n 's/^causalctl //p'); [ -n \"\$v\" ] && for m in '$top'/build/mod/*/kmod/causal.ko; do [ \"\$(modinfo -F version \$m)\" = \"\$v\" ] || { echo \"\$m: \$(modinfo -F version \$m), tools \$v (make all modules-vm)\"; exit 1; }; done"
check "--version: the tools', the module's (not loaded) and libbpf's" bash -c "'$ctl' --version >'$work/v.txt' && grep -q '^causalctl ' '$work/v.txt' && grep -q '^module not loaded\$' '$work/v.txt' && grep -Eq '^libbpf v[0-9]+\.[0-9]+\$' '$work/v.txt'"
check "-j --version and --version -j: JSON" "$py" -c '
import json, re, subprocess, sys
for args in (["-j", "--version"], ["--version", "-j"]):
    v = json.loads(subprocess.run([sys.argv[1]] + args, capture_output=True,
                                  text=True, check=True).stdout)
    assert v["version"] and v["module_loaded"] is False and v["module_version"] is None, v
    assert re.fullmatch(r"\d+\.\d+", v["libbpf_version"]), v
' "$ctl"
check "status -j: options after the command (the error as JSON, exit 1)" "$py" -c '
import json, subprocess, sys
for args in (["status", "-j"], ["status", "--json"], ["-j", "status"], ["status", "--pretty"]):
    out = subprocess.run([sys.argv[1]] + args, capture_output=True, text=True)
    assert out.returncode == 1 and "module loaded" in json.loads(out.stdout)["error"], (args, out)
' "$ctl"
check "status --help and help status: its usage, exit 0" bash -c "'$ctl' status --help | grep -q '^usage: causalctl status' && '$ctl' help status | grep -q '^usage: causalctl status' && '$ctl' help stat | grep -q 'examples:'"
check "help trace and trace --help: every option with a description, examples" "$py" -c '
import re, subprocess, sys
for args in (["help", "trace"], ["trace", "--help"], ["trace", "-h"]):
    out = subprocess.run([sys.argv[1]] + args, capture_output=True, text=True, check=True).stdout
    assert out.startswith("usage: causalctl trace"), out
    opts = [l for l in out.splitlines() if re.match(r"  (-\w, )?--|      --", l)]
    for want in ("--group", "--port", "--addr", "--tcp-all", "--json", "--verbose"):
        line = [l for l in opts if re.search(want + r"\b", l)]
        assert line and len(line[0][27:].split()) >= 2, (want, opts)
    assert "examples:" in out, out
    assert "-p, --pid" in out and "      --pretty" in out, out
' "$ctl"
check "help lists the commands; help for every command" bash -c "for c in status trace top analyze export why help; do '$ctl' help \$c | grep -q \"^usage: causalctl \$c\" || exit 1; done; '$ctl' help | grep -q '^  why '"
check "bad usage exits 2" bash -c "for a in 'trace --bogus' 'status extra' 'analyze' 'nosuchcmd' 'help nosuchcmd' 'trace -P 0' 'trace --addr nowhere' 'top -n' '--bogus status' 'why 1'; do '$ctl' \$a >/dev/null 2>&1; rc=\$?; [ \$rc -eq 2 ] || { echo \"\$a: \$rc\"; exit 1; }; done"
check "bad usage in JSON mode: the error as JSON" bash -c "'$ctl' trace -j --bogus | '$py' -c 'import json, sys; assert \"--bogus\" in json.load(sys.stdin)[\"error\"]'"
check "-- ends the options" bash -c "'$ctl' analyze -- --nosuchlog 2>&1 | grep -q -- '--nosuchlog: No such file'"
check "long --verbose everywhere; export -v stays --svg" bash -c "'$ctl' export --verbose 2>&1 | grep -q 'one of --shiviz' && '$ctl' top --verbose -n 1 -s '$work/none.sock' 2>&1 | grep -q 'not running' && '$ctl' help export | grep -q -- '-v, --svg' && '$ctl' help export | grep -q '^      --verbose'"

check "bash completion: the commands, and every option of help CMD" "$py" -c '
import re, subprocess, sys
ctl, comp = sys.argv[1], sys.argv[2]
def complete(*words):
    script = "source %s; COMP_WORDS=(%s); COMP_CWORD=%d; _causalctl; printf \"%%s\\n\" \"${COMPREPLY[@]}\"" % (
        comp, " ".join("\"%s\"" % w for w in words), len(words) - 1)
    return set(subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout.split())
top = subprocess.run([ctl, "help"], capture_output=True, text=True, check=True).stdout
cmds = re.findall(r"^  ([a-z]+) ", top, re.M)
assert len(cmds) == 7 and complete("causalctl", "") == set(cmds), (cmds, complete("causalctl", ""))
for c in cmds:
    usage = subprocess.run([ctl, "help", c], capture_output=True, text=True, check=True).stdout
    want = set(re.findall(r"^  (?:-\w, )?(--[\w-]+)", usage, re.M))
    got = complete("causalctl", c, "--")
    assert want and want <= got, (c, want - got)
assert "tcp_state" in complete("causalctl", "trace", "-e", "tcp_s") or "tcp_state" in complete("causalctl", "trace", "-e", "tcp_st"), "types"
' "$ctl" "$top/tools/completion/causalctl"
check "bash completion: every option of causald --help" "$py" -c '
import re, subprocess, sys
d, comp = sys.argv[1], sys.argv[2]
want = set(re.findall(r"(--[a-z][\w-]*)", subprocess.run([d, "--help"], capture_output=True, text=True).stdout))
got = set(subprocess.run(["bash", "-c", "source %s; COMP_WORDS=(causald --); COMP_CWORD=1; _causald; printf \"%%s\\n\" \"${COMPREPLY[@]}\"" % comp],
                         capture_output=True, text=True, check=True).stdout.split())
assert "--verbose" in want and want <= got, want - got
' "$bin/causald" "$top/tools/completion/causald"
check "make install: the tools, their completion and man pages" bash -c "make -s -C '$top' install DESTDIR='$work/inst' PREFIX=/usr >/dev/null && for f in sbin/causalctl sbin/causald share/bash-completion/completions/causalctl share/bash-completion/completions/causald share/man/man8/causalctl.8 share/man/man8/causald.8; do [ -s '$work/inst/usr/'\$f ] || { echo \$f; exit 1; }; done; '$work/inst/usr/sbin/causalctl' --version >/dev/null"

# trace: event times to the microsecond, pid and comm on TCP rows, filters.
conn_pid() {
	"$py" -c '
import os, socket, sys
print(os.getpid(), flush=True)
for port, addr in ((int(sys.argv[1]), "127.0.0.1"), (int(sys.argv[2]), "127.0.0.2"),
                   (int(sys.argv[3]), "::1")):
    s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET)
    s.bind((addr, port)); s.listen(4)
    c = socket.create_connection((addr, port)); a, _ = s.accept()
    c.sendall(b"x"); a.recv(1); c.close(); a.close(); s.close()' "$@"
}
"$ctl" trace --tcp-all -d 4 >"$work/t.txt" 2>"$work/t.err" &
t1=$!
"$ctl" trace -d 4 --tcp-all --port 47211 -j >"$work/tp.jsonl" 2>/dev/null &
t2=$!
"$ctl" trace --json --addr 127.0.0.2 --tcp-all -d 4 >"$work/ta.jsonl" 2>/dev/null &
t3=$!
"$ctl" trace -d 2 >"$work/tn.txt" 2>"$work/tn.err" &
t4=$!
"$ctl" trace -j --tcp-all --addr ::1 -d 4 >"$work/t6.jsonl" 2>/dev/null &
t5=$!
# Attached once they have written their first line (header or meta).
within 10 bash -c "[ -s '$work/t.txt' ] && [ -s '$work/tp.jsonl' ] && [ -s '$work/ta.jsonl' ] && [ -s '$work/tn.txt' ] && [ -s '$work/t6.jsonl' ]"
conn_pid 47211 47212 47213 >"$work/conn.pid"
wait $t1 $t2 $t3 $t4 $t5
check "trace: times of the events, to the microsecond" "$py" -c '
import re, sys
rows = open(sys.argv[1]).read().splitlines()[1:]
assert rows and all(re.match(r"\d\d:\d\d:\d\d\.\d{6} ", r) for r in rows), rows[:3]
us = {r[9:15] for r in rows if "47211" in r}
assert len(us) > 1, rows
' "$work/t.txt"
check "trace: TCP rows of a connect and a close name the process" "$py" -c '
import sys
pid = open(sys.argv[2]).read().split()[0]
rows = [r.split() for r in open(sys.argv[1]) if ":47211" in r]
syn = [r for r in rows if r[-3:] == ["CLOSE", "->", "SYN_SENT"]]
assert syn and syn[0][6] == pid and syn[0][7] == "python3", rows
fin = [r for r in rows if r[-3:] == ["ESTABLISHED", "->", "FIN_WAIT1"]]
assert fin and fin[0][6] == pid, rows
' "$work/t.txt" "$work/conn.pid"
check "trace --port: that port's connections only" "$py" -c '
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])][1:]
assert evs and all(47211 in (e["link"]["sport"], e["link"]["dport"]) for e in evs), evs
' "$work/tp.jsonl"
check "trace --addr: that address's connections only" "$py" -c '
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])][1:]
assert evs and all("127.0.0.2" in (e["link"]["saddr"], e["link"]["daddr"]) for e in evs), evs
assert any(e["link"]["dport"] == 47212 for e in evs), evs
' "$work/ta.jsonl"
check "trace --addr ::1: IPv6" "$py" -c '
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])][1:]
assert evs and all("::1" in (e["link"]["saddr"], e["link"]["daddr"]) for e in evs), evs
assert any(e["link"]["dport"] == 47213 for e in evs), evs
' "$work/t6.jsonl"
check "trace -j: the meta line first, as causald writes it" "$py" -c '
import json, sys, time
lines = [json.loads(l) for l in open(sys.argv[1])]
m = lines[0]
assert m["type"] == "meta" and m["v"] == 1 and m["boot_id"] == open("/proc/sys/kernel/random/boot_id").read().strip(), m
assert abs(m["realtime_ns"] / 1e9 - time.time()) < 60 and m["started_ts"] > 0, m
assert all(l["type"] != "meta" for l in lines[1:])
' "$work/tp.jsonl"
check "trace without the module and --tcp-all: a hint towards --tcp-all" bash -c "grep -q -- '--tcp-all' '$work/tn.err' && ! grep -q -- '--tcp-all' '$work/t.err'"
"$bin/causald" --log "$work/hint.jsonl" --socket "$work/hint.sock" --pidfile "$work/hint.pid" \
	--listen none -v 2>"$work/hint.err" &
daemon=$!
for _ in $(seq 100); do [ -S "$work/hint.sock" ] && break; sleep 0.1; done
kill -TERM "$daemon"
wait "$daemon"
daemon=
check "causald without the module and --tcp-all: a hint towards --tcp-all" grep -q -- '--tcp-all' "$work/hint.err"
check "causald -v: libbpf's messages" grep -q '^libbpf: ' "$work/hint.err"
check "causalctl trace -v and --verbose: libbpf's messages" bash -c "'$ctl' trace -v -d 1 2>&1 >/dev/null | grep -q '^libbpf: ' && '$ctl' trace -d 1 --verbose 2>&1 >/dev/null | grep -q '^libbpf: ' && ! '$ctl' trace -d 1 2>&1 >/dev/null | grep -q '^libbpf: '"
check "causald --version: the tools', the module's and libbpf's" bash -c "'$bin/causald' --version | grep -Eq '^libbpf v[0-9]+\.[0-9]+\$' && '$bin/causald' --version | grep -q '^module not loaded\$'"

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

# export: by default the diagram shows the slow incident (the middle third
# of the run, gen_events.py --slow), on the wall clock of the meta lines.
check "export: the default window is the slow-link incident" "$py" -c '
import json, subprocess, sys
bin, html, logs = sys.argv[1], sys.argv[2], sys.argv[3:]
out = subprocess.run([bin, "-j", "export", "--html", html] + logs,
                     capture_output=True, text=True, check=True).stdout
x = json.loads(out)["html"]
w = x["window"]
third = 20000 * 10**6 // (2 * 4 * 4) // 3
assert w["reason"] in ("anomaly", "longest_hold"), w
assert third - 5 * 10**6 <= w["from_ns"] < w["to_ns"] <= 2 * third + 30 * 10**6, w
assert w["wall_clock"] and "node 2 held" in w["text"], w
assert x["events"] <= 120 and x["lanes"] >= 2, x
page = open(html).read()
assert page.count("<rect class=\"ob\"") == 200 and "class=\"win\"" in page
assert "Window: around the" in page and "waits for n0:" in page
' "$bin/causalctl" "$work/slow.html" "$work"/slow/*.log
check "export: --from/--to as wall clock and from the run's start agree" "$py" -c '
import datetime, json, subprocess, sys
bin, logs = sys.argv[1], sys.argv[2:]
start = None
for l in logs:
    off = None
    for line in open(l):
        e = json.loads(line)
        if e["type"] == "meta":
            off = e["realtime_ns"] - e["started_ts"]
        elif off is not None:
            start = min(start or 1 << 64, e["ts"] + off)
def wall(ns):
    t = datetime.datetime.fromtimestamp(ns // 10**9, datetime.timezone.utc)
    return t.strftime("%Y-%m-%d %H:%M:%S") + ".%09d" % (ns % 10**9)
def window(*args):
    out = subprocess.run([bin, "-j", "export", "--svg", "/dev/null"] + list(args) + logs,
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)["svg"]["window"]
a = window("--from", "300ms", "--to", "310ms")
b = window("--from", wall(start + 300 * 10**6), "--to", wall(start + 310 * 10**6))
assert a["reason"] == "range" and a["from_ns"] >= 300 * 10**6, a
assert (a["from_ns"], a["to_ns"]) == (b["from_ns"], b["to_ns"]), (a, b)
' "$bin/causalctl" "$work"/slow/*.log
check "export --around a message not in the logs: exit 2" bash -c "'$bin/causalctl' export --svg /dev/null --around 3:999999 '$work'/slow/*.log 2>/dev/null; [ \$? -eq 2 ]"
check "export --max above 900 draws at most 900 events" bash -c "'$bin/causalctl' -j export --svg /dev/null --max 5000 '$work'/slow/*.log | '$py' -c 'import json, sys; x = json.load(sys.stdin)[\"svg\"]; assert x[\"max_events\"] == 900 and 850 <= x[\"events\"] <= 900, x'"

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
