#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Write synthetic event logs (docs/events.md) of one causal group.

Simulates N nodes exchanging broadcast and unicast messages over FIFO
channels with random delays, each receiver holding a message until every
message it causally depends on and that is addressed to it has been
delivered (the rule of docs/design.md, decided with global knowledge
instead of CLOCK frames). One log per host, as causald writes them, for
testing and timing `causalctl analyze` and `export`:

  tools/gen_events.py --events 1000000 --out /tmp/logs
  causalctl analyze /tmp/logs/*.log

--slow A:B delays the channel from node A to node B by 20 ms for the
middle third of the run and logs TCP retransmits on it: B then holds the
messages of the others that depend on A's, which analyze should blame on
A and flag as an anomaly; --violate N swaps N pairs of causally related deliveries, which
its happens-before check must report; --lost N adds a "lost" line.
"""

import argparse
import heapq
import json
import os
import random
import sys

MS = 1000000


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=10000,
                    help="stop after about this many events (default 10000)")
    ap.add_argument("--nodes", type=int, default=4)
    ap.add_argument("--group", type=int, default=7)
    ap.add_argument("--hosts", type=int, default=0,
                    help="hosts to spread the nodes over (default: one each)")
    ap.add_argument("--unicast", type=float, default=0.3,
                    help="share of sends to a single peer")
    ap.add_argument("--slow", default="", metavar="A:B")
    ap.add_argument("--violate", type=int, default=0, metavar="N")
    ap.add_argument("--lost", type=int, default=0, metavar="N")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", required=True, help="directory for the logs")
    a = ap.parse_args()

    n = a.nodes
    if n < 2 or n > 64:
        sys.exit("gen_events: --nodes must be 2..64")
    slow = tuple(int(x) for x in a.slow.split(":")) if a.slow else (-1, -1)
    if a.slow and (len(slow) != 2 or slow[0] == slow[1] or
                   not all(0 <= x < n for x in slow)):
        sys.exit("gen_events: --slow needs two different nodes A:B")
    rnd = random.Random(a.seed)
    nhosts = a.hosts if a.hosts > 0 else n
    host_of = [i % nhosts for i in range(n)]
    names = ["h%d" % h for h in range(nhosts)]
    offset = [rnd.randrange(10**9, 10**12) for _ in range(nhosts)]
    os.makedirs(a.out, exist_ok=True)
    files = [open(os.path.join(a.out, nm + ".log"), "w") for nm in names]
    dumps = json.JSONEncoder(separators=(",", ":")).encode
    written = [0]
    last = [0] * n

    # Each node's events in the order they happen, 1 ns apart at least.
    def out(node, t, obj):
        h = host_of[node]
        t = last[node] = max(t, last[node] + 1)
        line = {"v": 1, "type": obj.pop("type"), "host": names[h],
                "ts": t + offset[h]}
        line.update(obj)
        files[h].write(dumps(line) + "\n")
        written[0] += 1

    def ev(node, t, typ, peer, stamp, vc, **kw):
        d = {"type": typ, "pid": 0 if typ != "send" else 1000 + node,
             "comm": "" if typ != "send" else "node",
             "group": a.group, "node": node, "peer": peer, "stamp": stamp}
        d.update(kw)
        d["vclock"] = list(vc)
        out(node, t, d)

    for h in range(nhosts):
        files[h].write(dumps({"v": 1, "type": "meta", "host": names[h],
                              "boot_id": "%032x" % rnd.getrandbits(128),
                              "started_ts": offset[h],
                              "realtime_ns": 1790000000 * 10**9}) + "\n")

    def addr(i):
        return "10.0.%d.%d" % (i // 250, i % 250 + 1)

    # j < k: j connects to k's port 7000 from port 40000 + k.
    def link(me, other):
        lo, hi = min(me, other), max(me, other)
        lo_end, hi_end = (addr(lo), 40000 + hi), (addr(hi), 7000)
        s, d = (lo_end, hi_end) if me == lo else (hi_end, lo_end)
        return {"family": 4, "saddr": s[0], "sport": s[1],
                "daddr": d[0], "dport": d[1]}

    vc = [[0] * n for _ in range(n)]
    for j in range(n):
        for k in range(n):
            if j != k:
                ev(j, 0, "peer", k, 0, [0] * n, joined=True,
                   incarnation=0x1000 + k, link=link(j, k))

    sent_to = [[[] for _ in range(n)] for _ in range(n)]  # [k][j] stamps
    done_to = [[0] * n for _ in range(n)]                  # prefix delivered
    queue = [[[] for _ in range(n)] for _ in range(n)]    # [j][s] arrived
    chan_last = [[0] * n for _ in range(n)]               # FIFO arrival times
    index = [0] * n
    pending = []        # (time, seq, kind, data)
    seq = 0
    t = 0
    end_guess = a.events * MS // (2 * n * n)
    budget = a.violate

    def slow_now(s, j, now):
        return (s, j) == slow and end_guess / 3 <= now < 2 * end_guess / 3

    def ready(j, s, v):
        for k in range(n):
            if k in (s, j):
                continue
            st = sent_to[k][j]
            p = done_to[k][j]
            if p < len(st) and st[p] <= v[k]:
                return k
        return -1

    def try_deliver(j, now):
        nonlocal budget
        out_events = []
        progress = True
        while progress:
            progress = False
            for s in range(n):
                q = queue[j][s]
                if not q:
                    continue
                v, arrived, held = q[0]
                w = ready(j, s, v)
                if w >= 0:
                    if not held:
                        ev(j, now, "hold", s, v[s], v, wait_node=w,
                           wait_stamp=v[w])
                        q[0] = (v, arrived, True)
                    continue
                q.pop(0)
                done_to[s][j] += 1
                vc[j] = [max(x, y) for x, y in zip(vc[j], v)]
                index[j] += 1
                out_events.append([now, s, v, now - arrived])
                progress = True
        # A violation: two adjacent deliveries, the second caused by the
        # first, written the other way round.
        for i in range(len(out_events) - 1):
            x, y = out_events[i], out_events[i + 1]
            if budget and x[2][x[1]] <= y[2][x[1]]:
                out_events[i], out_events[i + 1] = y, x
                budget -= 1
                break
        for i, (_, s, v, held) in enumerate(out_events):
            ev(j, now, "deliver", s, v[s], v,
               index=index[j] - len(out_events) + i + 1, held_ns=held,
               gap=False)

    next_send = [rnd.expovariate(1.0) * MS for _ in range(n)]
    for s in range(n):
        heapq.heappush(pending, (int(next_send[s]), seq, "send", s))
        seq += 1
    while pending and written[0] < a.events:
        t, _, kind, data = heapq.heappop(pending)
        if kind == "send":
            s = data
            vc[s][s] += 1
            v = list(vc[s])
            if rnd.random() < a.unicast:
                targets = [rnd.choice([k for k in range(n) if k != s])]
                peer = targets[0]
            else:
                targets = [k for k in range(n) if k != s]
                peer = None
            ev(s, t, "send", peer, v[s], v, len=rnd.randrange(1, 2000),
               targets=len(targets))
            for j in targets:
                sent_to[s][j].append(v[s])
                d = int(rnd.expovariate(1.0) * MS) + MS // 5
                if slow_now(s, j, t):
                    d += 20 * MS
                    if rnd.random() < 0.3:
                        out(s, t + 1, {"type": "tcp_retransmit",
                                       "link": link(s, j),
                                       "state": "ESTABLISHED"})
                at = max(t + d, chan_last[s][j] + 1)
                chan_last[s][j] = at
                heapq.heappush(pending, (at, seq, "arrive", (j, s, v)))
                seq += 1
            heapq.heappush(pending, (t + int(rnd.expovariate(1.0) * MS) + 1,
                                     seq, "send", s))
            seq += 1
        else:
            j, s, v = data
            ev(j, t, "arrive", s, v[s], v, len=rnd.randrange(1, 2000))
            queue[j][s].append((v, t, False))
            try_deliver(j, t)
    if a.lost:
        files[0].write(dumps({"v": 1, "type": "lost", "host": names[0],
                              "ts": t + offset[0], "count": a.lost}) + "\n")
    for f in files:
        f.close()
    print("%d events in %d logs under %s%s" %
          (written[0], nhosts, a.out,
           ", %d violations injected" % (a.violate - budget)
           if a.violate else ""), file=sys.stderr)


if __name__ == "__main__":
    main()
