#!/usr/bin/env python3
"""Syscalls of an idle echo server holding N open connections (default
1,000) over 10 s: perf's count, and the server's voluntary context switches
(each wake-up from epoll_wait is one; zero means it slept throughout).

usage: benches/scripts/idle_wakeups.py [N]   (after cargo build --release -p echo)"""
import os, re, socket, subprocess, sys, time

N = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
srv = subprocess.Popen(["target/release/echo", "--listen", "127.0.0.1:0"],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
port = int(srv.stdout.readline().rsplit(":", 1)[1])
conns = [socket.create_connection(("127.0.0.1", port)) for _ in range(N)]
for s in conns:
    s.sendall(b"x")
for s in conns:
    assert s.recv(1) == b"x"

def wakeups():
    total = 0
    for task in os.listdir(f"/proc/{srv.pid}/task"):
        status = open(f"/proc/{srv.pid}/task/{task}/status").read()
        total += int(re.search(r"voluntary_ctxt_switches:\s+(\d+)", status).group(1))
    return total

time.sleep(1)
w0 = wakeups()
perf = subprocess.run(["perf", "stat", "-e", "raw_syscalls:sys_enter", "-p", str(srv.pid), "--", "sleep", "10"],
                      capture_output=True, text=True).stderr
w1 = wakeups()
count = next(l.split("raw_syscalls")[0].strip() for l in perf.splitlines() if "raw_syscalls" in l)
print(f"{N} idle connections, 10 s: perf raw_syscalls:sys_enter={count} "
      f"('<not counted>' = the process never ran); server wake-ups={w1 - w0}")
srv.terminate(); srv.wait()
