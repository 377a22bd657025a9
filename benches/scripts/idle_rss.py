#!/usr/bin/env python3
"""The echo server's RSS per idle connection: VmRSS with N connected, silent
clients minus VmRSS before them, divided by N (default 10,000).

usage: benches/scripts/idle_rss.py [N]   (after cargo build --release -p echo)"""
import os, re, socket, subprocess, sys, time

N = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
srv = subprocess.Popen(["target/release/echo", "--listen", "127.0.0.1:0"],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
port = int(srv.stdout.readline().rsplit(":", 1)[1])

def rss_kib():
    return int(re.search(r"VmRSS:\s+(\d+)", open(f"/proc/{srv.pid}/status").read()).group(1))

# One round trip first, so the loop's own buffers exist before the baseline.
c = socket.create_connection(("127.0.0.1", port)); c.sendall(b"x"); c.recv(1); c.close()
time.sleep(0.5)
before = rss_kib()
conns = [socket.create_connection(("127.0.0.1", port)) for _ in range(N)]
for s in conns:
    s.sendall(b"y")
for s in conns:  # every connection echoed once: all of them were accepted
    assert s.recv(1) == b"y"
time.sleep(1)
after = rss_kib()
print(f"connections={N} rss_before_kib={before} rss_after_kib={after} "
      f"bytes_per_connection={(after - before) * 1024 / N:.0f}")
srv.terminate(); srv.wait()
