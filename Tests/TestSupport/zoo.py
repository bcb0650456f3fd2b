#!/usr/bin/env python3
"""A zoo of TCP and UDP sockets in known states, for netstatd's namespace tests.

Run inside a private network namespace (`ip netns exec NS python3 zoo.py`): it only
ever talks to loopback. It prints one JSON line describing what it made, then holds
every socket open until its stdin closes (or 120 s pass), and exits with its child.
"""
import json
import os
import select
import socket
import sys
import time

made = {}
keep = []


def listener(family, address, backlog=16, v6only=None):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if v6only is not None:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1 if v6only else 0)
    s.bind((address, 0))
    s.listen(backlog)
    keep.append(s)
    return s


def pair(lst, family, address):
    c = socket.socket(family, socket.SOCK_STREAM)
    c.connect((address, lst.getsockname()[1]))
    a, _ = lst.accept()
    keep.extend([c, a])
    return c, a


def port(s):
    return s.getsockname()[1]


l_lo4 = listener(socket.AF_INET, "127.0.0.1")
l_any4 = listener(socket.AF_INET, "0.0.0.0")
l_any6 = listener(socket.AF_INET6, "::", v6only=False)
l_lo6 = listener(socket.AF_INET6, "::1", v6only=True)
made["listen"] = {"lo4": port(l_lo4), "any4": port(l_any4), "any6": port(l_any6), "lo6": port(l_lo6)}

# ESTABLISHED v4 with 1234 unread bytes in the accepted side's Recv-Q.
c4, a4 = pair(l_lo4, socket.AF_INET, "127.0.0.1")
c4.sendall(b"x" * 1234)
made["estab4"] = {"client": port(c4), "server": port(l_lo4), "unread": 1234}

# ESTABLISHED v6.
c6, a6 = pair(l_lo6, socket.AF_INET6, "::1")
made["estab6"] = {"client": port(c6), "server": port(l_lo6)}

# An IPv6 socket talking to IPv4: the dual-stack listener sees a v4-mapped peer.
cm = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
cm.connect(("::ffff:127.0.0.1", port(l_any6)))
am, _ = l_any6.accept()
keep.extend([cm, am])
made["mapped"] = {"client": port(cm), "server": port(l_any6)}

# FIN_WAIT2 (client shut its writing side, still holds the fd) and CLOSE_WAIT (server
# got the FIN and has not closed).
cf, af = pair(l_any4, socket.AF_INET, "127.0.0.1")
cf.shutdown(socket.SHUT_WR)
made["fin_wait2"] = {"client": port(cf)}

# TIME_WAIT: the side that closes first ends there, for 60 s.
ct, at = pair(l_any4, socket.AF_INET, "127.0.0.1")
made["time_wait"] = {"client": port(ct)}
ct.close()
time.sleep(0.05)
at.close()
keep.remove(ct)
keep.remove(at)

# SYN_SENT: a listener with backlog 0 that never accepts; once its accept queue is
# full the kernel drops further SYNs and the next connect stays in SYN_SENT.
l_full = listener(socket.AF_INET, "127.0.0.1", backlog=0)
made["full"] = {"port": port(l_full)}
fillers = []
for _ in range(4):
    f = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    f.setblocking(False)
    try:
        f.connect(("127.0.0.1", port(l_full)))
    except BlockingIOError:
        pass
    fillers.append(f)
    time.sleep(0.05)
keep.extend(fillers)

# UDP: one bound and unconnected, one connected to it.
u_bound = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u_bound.bind(("127.0.0.1", 0))
u_conn = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u_conn.connect(("127.0.0.1", port(u_bound)))
keep.extend([u_bound, u_conn])
made["udp"] = {"bound": port(u_bound), "connected": port(u_conn)}

# One socket held by two processes: the child keeps only l_any4 of what it inherits.
child = os.fork()
if child == 0:
    for s in keep:
        if s is not l_any4:
            s.close()
    select.select([sys.stdin], [], [], 120)
    os._exit(0)
made["pids"] = {"parent": os.getpid(), "child": child}

time.sleep(0.3)  # let FIN/ACK exchanges settle
print(json.dumps(made), flush=True)
select.select([sys.stdin], [], [], 120)
os.kill(child, 9)
os.waitpid(child, 0)
