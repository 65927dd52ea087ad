#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Write the seed corpus of the libFuzzer harnesses: a few inputs that each
reach one part of the codec or the rule, so that a short run starts deep.

usage: user/fuzz/mkcorpus.py [DIR]    (default: user/fuzz/corpus)
"""
import os
import struct
import sys

MAGIC = 0x4341534C
HELLO, DATA, CLOCK, BYE = 1, 2, 3, 4


# ---- fuzz_wire: byte 0 picks the DATA limit (see max_lens[]), then a stream

def hdr(ftype, nodes, sender, length, flags=0, magic=MAGIC, version=1):
    return struct.pack(">IBBHHHI", magic, version, ftype, flags, nodes, sender, length)


def frame(ftype, clock, sender, payload=b"", flags=0, **kw):
    return (hdr(ftype, len(clock), sender, len(payload), flags, **kw) +
            b"".join(struct.pack(">Q", c) for c in clock) + payload)


def delta(ftype, nodes, sender, entries, payload=b"", flags=0):
    """A version 2 frame of the clock entries {node: value} given."""
    present = sum(1 << k for k in entries)
    return (hdr(ftype, nodes, sender, len(payload), flags, version=2) +
            struct.pack(">Q", present) +
            b"".join(struct.pack(">Q", entries[k]) for k in sorted(entries)) + payload)


def hello(group=0x0C0FFEE1, flags=0, incarnation=0x1001):
    return struct.pack(">IIQ", group, flags, incarnation)


LIM_16, LIM_1M, LIM_64M = 3, 6, 7
WIRE = {
    "session": bytes([LIM_1M]) + frame(HELLO, [0, 0, 0], 1, hello()) +
               frame(DATA, [1, 1, 0], 1, b"abc", flags=1) +
               frame(CLOCK, [1, 2, 0], 1) + frame(BYE, [1, 2, 0], 1),
    "data-at-limit": bytes([LIM_16]) + frame(DATA, [0, 5], 1, b"x" * 16) +
                     frame(DATA, [0, 6], 1, b"x" * 17),
    "clock-64": bytes([LIM_64M]) + frame(CLOCK, [(1 << 64) - 1 - i for i in range(64)], 63),
    "truncated": bytes([LIM_1M]) + frame(DATA, [7, 7], 0, b"payload")[:-3],
    "bad-fields": bytes([LIM_1M]) + frame(CLOCK, [0], 0, magic=MAGIC ^ 1) +
                  frame(CLOCK, [0], 0, version=3),
    "delta-session": bytes([LIM_1M]) + frame(HELLO, [0] * 8, 1, hello(flags=0x80000000)) +
                     delta(DATA, 8, 1, {1: 1}, b"abc") + delta(CLOCK, 8, 1, {}) +
                     delta(DATA, 8, 1, {1: 2, 6: 9}, b"", flags=1) + delta(BYE, 8, 1, {1: 2}),
    "delta-bad": bytes([LIM_1M]) + delta(DATA, 3, 1, {1: 1, 3: 1}),
    "flags-on-clock": bytes([LIM_1M]) + frame(CLOCK, [0, 0], 0, flags=1),
    "hello-no-incarnation": bytes([LIM_1M]) + frame(HELLO, [0, 0], 1, hello(incarnation=0)),
    "huge-length": bytes([LIM_64M]) + hdr(DATA, 2, 0, (64 << 20) + 1),
}


# ---- fuzz_rule: nodes - 2, self, peers to remove, then operations

class Rule:
    def __init__(self, nodes, me, drop_peers=0):
        self.n = nodes
        self.b = bytearray([nodes - 2, me, drop_peers])
        self.last = [[0] * nodes for _ in range(nodes)]

    def frame(self, ftype, k, clock, fresh=False, length=1, refused=False):
        """A frame from k; each entry of @clock is a value, or None for 'as
        in k's last accepted frame' (its own entry one up for DATA)."""
        self.b.append((ftype - 1) | (4 if fresh else 0))
        self.b.append(k)
        if ftype == DATA:
            self.b.append(length)
        for i, c in enumerate(clock):
            base = self.last[k][i] + (1 if ftype == DATA and i == k else 0)
            if c is None:
                c = base
            if base <= c < base + 64:
                self.b.append(c - base)
            elif c >= (1 << 64) - 64:
                self.b.append(0x80 | ((1 << 64) - 1 - c))
            else:
                self.b.append(0xC0)
                self.b += struct.pack(">Q", c)
            if not refused:
                self.last[k][i] = c
        return self

    def hellos(self, me):
        for k in range(self.n):
            if k != me:
                self.frame(HELLO, k, [0] * self.n)
        return self

    def op(self, code, arg=None):
        self.b.append(code)
        if arg is not None:
            self.b.append(arg)
        return self

    def deliver(self, k):
        return self.op(0x60, k)

    def timeout(self, k):
        return self.op(0x80, k)

    def brk(self, k):
        return self.op(0x90, k)

    def purge(self, k):
        return self.op(0xA0, k)

    def send(self):
        return self.op(0xB0)

    def toggle_peer(self, k):
        return self.op(0xD0, k)

    def drain(self):
        return self.op(0xE0)


TOP = (1 << 64) - 1
RULE = {
    # A -> B -> C, C gets B's message first (C is node 2 of 3).
    "classic": Rule(3, 2).hellos(2).frame(DATA, 1, [1, None, 0]).deliver(1)
               .frame(DATA, 0, [None, 0, 0]).deliver(0).deliver(1),
    # Defect 9: B claims A's stamp 2^64-1, a hold timeout delivers it.
    "forged-gap": Rule(4, 3).hellos(3).frame(CLOCK, 0, [2, 0, 0, 0])
                  .frame(DATA, 1, [TOP, None, 5, 0]).timeout(1).send()
                  .frame(DATA, 2, [4, 0, None, 1]).drain(),
    # A breaks with a message of B waiting on it, comes back, leaves.
    "reconnect": Rule(3, 2).hellos(2).frame(CLOCK, 0, [1, 0, 0])
                 .frame(DATA, 1, [2, None, 0]).brk(0)
                 .frame(HELLO, 0, [2, 0, 0]).deliver(1).frame(DATA, 0, [None, 0, 0])
                 .frame(BYE, 0, [3, 0, 0]).frame(CLOCK, 0, [3, 0, 0]).drain(),
    # A second channel while one is up, a frame before HELLO, clocks back.
    "refusals": Rule(3, 0).frame(DATA, 1, [0, 1, 0], refused=True).hellos(0)
                .frame(HELLO, 1, [0, 0, 0], fresh=True, refused=True)
                .frame(CLOCK, 2, [0, 0, 5]).frame(CLOCK, 2, [0, 0, 4], refused=True)
                .frame(DATA, 1, [1, None, 0]).frame(DATA, 1, [0, None, 1], refused=True),
    # Node 1 is not a peer of node 0; its entries are taken as they come.
    "restricted": Rule(4, 0, drop_peers=0x02).hellos(0)
                  .frame(DATA, 2, [0, 7, None, 0]).deliver(2).toggle_peer(1)
                  .frame(DATA, 3, [0, 9, 0, None]).deliver(3).drain(),
    # Its owner closes the channel to B with messages queued.
    "purge": Rule(3, 2).hellos(2).frame(DATA, 1, [1, None, 0])
             .frame(DATA, 1, [1, None, 0]).purge(1).frame(DATA, 0, [None, 0, 0]).drain(),
    # Eight nodes, sends and a drain.
    "mesh8": Rule(8, 5).hellos(5).send().frame(DATA, 0, [None, 0, 0, 0, 0, 1, 0, 0])
             .frame(DATA, 7, [1, 0, 0, 0, 0, 1, 0, None]).frame(CLOCK, 3, [1, 0, 0, 4, 0, 0, 0, 0])
             .send().drain(),
}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")
    for fuzzer, seeds in (("fuzz_wire", WIRE), ("fuzz_rule", RULE)):
        d = os.path.join(out, fuzzer)
        os.makedirs(d, exist_ok=True)
        for name, data in seeds.items():
            with open(os.path.join(d, name), "wb") as f:
                f.write(bytes(data.b if isinstance(data, Rule) else data))


if __name__ == "__main__":
    main()
