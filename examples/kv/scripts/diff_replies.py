#!/usr/bin/env python3
"""Diff kv's replies against redis-server's, byte for byte.

Sends each command of a list (one per line, shell-quoted; # starts a
comment) to both servers over raw sockets, reads each complete RESP reply,
and prints every command whose replies differ. Both servers must run on
loopback; start them empty (the list begins with FLUSHALL).

usage: examples/kv/scripts/diff_replies.py REDIS_PORT KV_PORT [COMMANDS]
  COMMANDS defaults to diff_commands.txt beside this script, the list the
  kv commands were checked with against redis-server 7.0.
"""
import os, socket, shlex, sys
def enc(args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a.encode() if isinstance(a, str) else a
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out
class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=5); self.buf = b""
    def line(self):
        while b"\r\n" not in self.buf:
            d = self.s.recv(65536)
            if not d: raise EOFError
            self.buf += d
        l, self.buf = self.buf.split(b"\r\n", 1); return l
    def exact(self, n):
        while len(self.buf) < n:
            d = self.s.recv(65536)
            if not d: raise EOFError
            self.buf += d
        r, self.buf = self.buf[:n], self.buf[n:]; return r
    def reply(self):
        l = self.line(); t = l[:1]
        if t in (b"+", b"-", b":"): return l + b"\r\n"
        if t == b"$":
            n = int(l[1:]); return l + b"\r\n" + (b"" if n < 0 else self.exact(n + 2))
        if t == b"*":
            n = int(l[1:]); out = l + b"\r\n"
            for _ in range(max(n, 0)): out += self.reply()
            return out
        raise ValueError(l)
    def cmd(self, args):
        self.s.sendall(enc(args))
        try: return self.reply()
        except EOFError: return b"<EOF>"
a, b = Conn(int(sys.argv[1])), Conn(int(sys.argv[2]))
commands = sys.argv[3] if len(sys.argv) > 3 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "diff_commands.txt")
diffs = 0; n = 0
for raw in open(commands):
    raw = raw.strip()
    if not raw or raw.startswith("#"): continue
    args = shlex.split(raw); n += 1
    ra, rb = a.cmd(args), b.cmd(args)
    if ra != rb:
        diffs += 1
        print("DIFF %s\n  redis: %r\n  kv:    %r" % (raw, ra, rb))
print("%d commands, %d differ" % (n, diffs))
sys.exit(1 if diffs else 0)
