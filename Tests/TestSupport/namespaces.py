#!/usr/bin/env python3
"""Helpers for netstatd's namespace tests. Every mode prints one JSON line once it is
set up, then holds what it made until its stdin closes (or a bounded time passes),
cleans up and exits. Traffic only ever goes to loopback or to addresses inside
namespaces the test made.

  peer [--listen ADDR:PORT]... [--connect ADDR:PORT]...
      Listens and connects (TCP) in the caller's namespace; accepts what arrives.
  holders N
      Forks N children, each in a network namespace of its own (unshare(2)); prints
      their pids. The namespaces live as long as the children.
  churn N
      Makes N short-lived namespaces one after another (a child unshares, lives
      0-5 ms, exits), at most 2 at a time, for a sampler to race against.
  burst ADDR:PORT
      Listens (TCP) on ADDR:PORT in the caller's namespace. Each line "COUNT BYTES"
      read makes COUNT short connections to it, one after another: connect, send
      BYTES + i bytes, read them at the accepted end, close the client then the
      server. Prints the client ports, in order, once they are all closed.
"""
import ctypes
import json
import os
import select
import signal
import socket
import sys
import time

CLONE_NEWNET = 0x40000000
HOLD_SECONDS = 300
libc = ctypes.CDLL(None, use_errno=True)


def unshare_net():
    if libc.unshare(CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET)")


def hold(until=HOLD_SECONDS, on_readable=None, extra=()):
    """Waits for stdin to close (bounded), calling on_readable for ready sockets."""
    deadline = time.monotonic() + until
    while time.monotonic() < deadline:
        ready, _, _ = select.select([sys.stdin, *extra], [], [], max(0.0, deadline - time.monotonic()))
        if sys.stdin in ready:
            if not sys.stdin.buffer.read1(4096):
                return
        for r in ready:
            if r is not sys.stdin and on_readable:
                on_readable(r)


def split(text):
    host, port = text.rsplit(":", 1)
    return host, int(port)


def peer(args):
    listeners, keep, made = [], [], {"pid": os.getpid(), "listening": [], "connected": []}
    i = 0
    while i < len(args):
        flag, value = args[i], args[i + 1]
        i += 2
        address = split(value)
        if flag == "--listen":
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(address)
            s.listen(16)
            listeners.append(s)
            made["listening"].append("%s:%d" % s.getsockname())
        elif flag == "--connect":
            c = socket.create_connection(address, timeout=10)
            keep.append(c)
            made["connected"].append({"local": "%s:%d" % c.getsockname(), "remote": "%s:%d" % c.getpeername()})
    print(json.dumps(made), flush=True)

    def accept(listener):
        conn, _ = listener.accept()
        keep.append(conn)

    hold(on_readable=accept, extra=listeners)


def holders(count):
    children = []
    for _ in range(count):
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_end)
            try:
                unshare_net()
                os.write(write_end, b"1")
            finally:
                os.close(write_end)
            # Lives until the parent kills it (or the bound passes).
            time.sleep(HOLD_SECONDS)
            os._exit(0)
        os.close(write_end)
        ok = os.read(read_end, 1) == b"1"
        os.close(read_end)
        children.append(pid)
        if not ok:
            raise SystemExit("a child could not unshare its network namespace")
    print(json.dumps({"pid": os.getpid(), "children": children}), flush=True)
    try:
        hold()
    finally:
        for pid in children:
            os.kill(pid, signal.SIGKILL)
        for pid in children:
            os.waitpid(pid, 0)


def churn(count):
    print(json.dumps({"pid": os.getpid(), "count": count}), flush=True)
    running = []
    for n in range(count):
        pid = os.fork()
        if pid == 0:
            unshare_net()
            time.sleep((n % 6) / 1000)
            os._exit(0)
        running.append(pid)
        if len(running) >= 2:
            os.waitpid(running.pop(0), 0)
    for pid in running:
        os.waitpid(pid, 0)
    print(json.dumps({"done": count}), flush=True)
    hold(until=60)


def burst(args):
    host, port = split(args[0])
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(64)
    print(json.dumps({"pid": os.getpid(), "listening": "%s:%d" % listener.getsockname()}), flush=True)
    deadline = time.monotonic() + HOLD_SECONDS
    while time.monotonic() < deadline:
        line = sys.stdin.readline()
        if not line:
            return
        count, size = (int(x) for x in line.split())
        ports = []
        for i in range(count):
            client = socket.create_connection((host, port), timeout=10)
            server, _ = listener.accept()
            payload = b"x" * (size + i)
            client.sendall(payload)
            got = 0
            while got < len(payload):
                chunk = server.recv(65536)
                if not chunk:
                    break
                got += len(chunk)
            ports.append(client.getsockname()[1])
            client.close()
            server.close()
        print(json.dumps({"made": count, "client_ports": ports}), flush=True)


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "peer":
        peer(args)
    elif mode == "holders":
        holders(int(args[0]))
    elif mode == "churn":
        churn(int(args[0]))
    elif mode == "burst":
        burst(args)
    else:
        raise SystemExit("unknown mode %r" % mode)


if __name__ == "__main__":
    main()
