"""What the Prometheus tests' scripts share: starting, waiting for and stopping the
real daemons they drive (netstatd, prometheus), bounded in time, failing loudly."""
import signal
import socket
import subprocess
import sys
import time
import urllib.request

# Both daemons run niced, prometheus on one OS thread: the suite runs other tests in
# parallel on the same cores, some of them timing-sensitive.
NICE = ["nice", "-n", "10"]


def fail(message):
    print(f"FAIL: {message}", flush=True)
    sys.exit(1)


def get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status, response.read().decode()


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(what, predicate, deadline):
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.2)
    fail(f"timed out waiting for {what}")


def stop(process):
    if process and process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
