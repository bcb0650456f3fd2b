"""What the Prometheus tests' scripts share: starting, waiting for and stopping the
real daemons they drive (netstatd, prometheus), bounded in time, failing loudly."""
import json
import os
import re
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


def start_prometheus(work, target_port, rules=None):
    """Prometheus scraping 127.0.0.1:TARGET_PORT every second (and evaluating RULES),
    its config, data and log in WORK, on one OS thread. Returns (process, api URL,
    log path)."""
    prom_port = free_port()
    config = os.path.join(work, "prometheus.yml")
    text = "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
    if rules:
        text += f"  evaluation_interval: 1s\nrule_files:\n  - {json.dumps(rules)}\n"
    text += f"scrape_configs:\n  - job_name: netstatd\n    static_configs:\n      - targets: [\"127.0.0.1:{target_port}\"]\n"
    with open(config, "w") as file:
        file.write(text)
    log_path = os.path.join(work, "prometheus.log")
    prometheus = subprocess.Popen(
        NICE + ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={os.path.join(work, 'data')}",
                f"--web.listen-address=127.0.0.1:{prom_port}", "--log.level=warn"],
        stdout=open(log_path, "w"), stderr=subprocess.STDOUT, cwd=work, env=dict(os.environ, GOMAXPROCS="1"))
    return prometheus, f"http://127.0.0.1:{prom_port}", log_path


def start_netstatd(binary, work, arguments, deadline):
    """`netstatd serve` on a free loopback port with ARGUMENTS, niced, its log in WORK.
    Returns (process, port) once it listens."""
    log_path = os.path.join(work, "netstatd.log")
    with open(log_path, "w") as log:
        netstatd = subprocess.Popen(NICE + [binary, "serve", "--listen", "127.0.0.1:0"] + arguments,
                                    stderr=log, stdout=subprocess.DEVNULL, cwd=work)

    def port():
        match = re.search(r"listening on http://127\.0\.0\.1:(\d+)", open(log_path).read())
        if netstatd.poll() is not None:
            fail(f"netstatd exited: {open(log_path).read()}")
        return int(match.group(1)) if match else None

    return netstatd, wait_for("netstatd to listen", port, deadline)
