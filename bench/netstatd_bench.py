"""Shared by the bench/ scripts: a private network namespace and a population of
loopback TCP sockets held by many processes inside it. Only the namespace's own
loopback carries traffic; every loop is bounded in count and time."""
import os
import resource
import subprocess
import sys
import time

NAMESPACE = f"nsbench-{os.getpid()}"
SETUP_DEADLINE = 300  # seconds allowed to build one population


def sh(*args, check=True, **kw):
    return subprocess.run(list(args), check=check, **kw)


def ns(*args):
    return ["ip", "netns", "exec", NAMESPACE, *args]


def make_namespace():
    sh("ip", "netns", "add", NAMESPACE)
    sh(*ns("ip", "link", "set", "lo", "up"))
    sh(*ns("sysctl", "-qw", "net.ipv4.ip_local_port_range=1024 65535"))
    sh(*ns("sysctl", "-qw", "net.core.somaxconn=65535"))
    sh(*ns("sysctl", "-qw", "net.ipv4.tcp_max_syn_backlog=65535"))


def remove_namespace():
    subprocess.run(["ip", "netns", "del", NAMESPACE], stderr=subprocess.DEVNULL)


WORKER = r'''
import os, resource, select, socket, sys
connections, first_port, ports, addresses = (int(a) for a in sys.argv[1:5])
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
listeners = []
for p in range(ports):
    l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind(("127.0.0.1", first_port + p)); l.listen(4096); listeners.append(l)
keep = []
for i in range(connections):
    l = listeners[i % ports]
    c = socket.socket()
    c.bind(("127.0.%d.%d" % (1 + (i // 250) % 250, 1 + i % 250) if addresses > 1 else "127.0.0.1", 0))
    c.connect(("127.0.0.1", l.getsockname()[1]))
    a, _ = l.accept()
    keep += [c, a]
sys.stdout.write("ready\n"); sys.stdout.flush()
select.select([sys.stdin], [], [], 3600)
'''


class Population:
    """`sockets` TCP sockets held by `processes` worker processes in the namespace."""

    def __init__(self, sockets, processes):
        self.workers = []
        connections = sockets // 2
        per = max(1, connections // processes)
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        # Each connection costs a worker two fds; stay under the per-process limit.
        per = min(per, (hard - 64) // 2)
        count = (connections + per - 1) // per
        deadline = time.monotonic() + SETUP_DEADLINE
        port = 20000
        for w in range(count):
            n = min(per, connections - w * per)
            if n <= 0:
                break
            p = subprocess.Popen(ns(sys.executable, "-c", WORKER, str(n), str(port), "1", "2"),
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            port += 1
            self.workers.append(p)
            if time.monotonic() > deadline:
                raise SystemExit("setup took longer than %d s" % SETUP_DEADLINE)
        for p in self.workers:
            line = p.stdout.readline()
            if line.strip() != "ready":
                raise SystemExit("a worker failed to set up its sockets")

    def close(self):
        for p in self.workers:
            try:
                p.stdin.close()
            except OSError:
                pass
        for p in self.workers:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()




def bench_binary(netstatd):
    """The `netstatd-bench` built beside NETSTATD (the measuring commands live there)."""
    return os.path.join(os.path.dirname(os.path.abspath(netstatd)), "netstatd-bench")
