#!/usr/bin/env python3
"""A real Prometheus scraping a real `netstatd serve`, checked through Prometheus' HTTP API.

usage: prometheus_scrape.py NETSTATD_BINARY RULES_FILE

Starts netstatd on a free loopback port (no history, sampling only when asked, so each
scrape is one sample), then prometheus with its own config and storage in a temporary
directory, scraping every second and loading RULES_FILE. Then checks:
  - promtool's lint of one /metrics is clean;
  - `up` is 1 after a few scrapes;
  - `scrape_samples_scraped` equals the samples prometheus_client's parser counts in
    one /metrics;
  - `sum(netstatd_sockets)` at a scrape equals the socket count /api/v1/status gives
    for the same sample (matched by `netstatd_samples_total` / status `samples`);
  - every rule loaded and evaluates without error.
Kills both at the end. Prints what it saw; exits 1 on the first failed check.
Run in a private network namespace when possible (the Swift test does, as root), so
the socket population is only these two processes.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from live_daemons import fail, get, start_netstatd, start_prometheus, stop, wait_for  # noqa: E402

DEADLINE_SECONDS = 20


def count_samples(text):
    return sum(len(family.samples) for family in text_string_to_metric_families(text))


def main():
    if len(sys.argv) != 3:
        fail(__doc__.splitlines()[2])
    binary, rules = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    for tool in ("prometheus", "promtool"):
        if not shutil.which(tool):
            fail(f"{tool} is not installed (apt-get install --no-install-recommends prometheus)")
    started = time.monotonic()
    deadline = started + DEADLINE_SECONDS
    work = tempfile.mkdtemp(prefix="netstatd-prometheus-")
    netstatd = prometheus = None
    try:
        netstatd, port = start_netstatd(binary, work, ["--no-history", "--interval", "3600", "--namespaces", "host"], deadline)
        base = f"http://127.0.0.1:{port}"

        prometheus, api, prom_log_path = start_prometheus(work, port, rules=rules)

        def query(expression, at=None):
            parameters = {"query": expression}
            if at is not None:
                parameters["time"] = repr(at)
            _, body = get(f"{api}/api/v1/query?" + urllib.parse.urlencode(parameters))
            answer = json.loads(body)
            if answer.get("status") != "success":
                fail(f"query {expression}: {body}")
            return answer["data"]

        def ready():
            if prometheus.poll() is not None:
                fail("prometheus exited: " + open(prom_log_path).read()[-2000:])
            return get(f"{api}/-/ready")[0] == 200

        wait_for("prometheus to be ready", ready, deadline)
        print(f"prometheus ready after {time.monotonic() - started:.1f} s", flush=True)

        # promtool's lint of one exposition.
        _, metrics = get(f"{base}/metrics")
        lint = subprocess.run(["promtool", "check", "metrics"], input=metrics, capture_output=True, text=True)
        if lint.returncode != 0:
            fail(f"promtool check metrics:\n{lint.stdout}{lint.stderr}")
        print("promtool check metrics: clean", flush=True)

        def scrapes():
            result = query('count_over_time(up{job="netstatd"}[1m])')["result"]
            return result and float(result[0]["value"][1]) >= 3
        wait_for("three scrapes", scrapes, deadline)
        up = query('up{job="netstatd"}')["result"]
        if not up or up[0]["value"][1] != "1":
            fail(f"up is not 1: {up}")
        print(f"up = 1 after {time.monotonic() - started:.1f} s", flush=True)

        # Samples in one scrape against samples in one /metrics. Sockets come and go
        # between the two (label sets of netstatd_sockets), so a few tries are allowed.
        seen = []
        for _ in range(8):
            _, text = get(f"{base}/metrics")
            ours = count_samples(text)
            result = query('scrape_samples_scraped{job="netstatd"}')["result"]
            theirs = int(float(result[0]["value"][1]))
            seen.append((ours, theirs))
            if ours == theirs:
                break
            time.sleep(1)
        else:
            fail(f"scrape_samples_scraped never matched the samples in /metrics: (ours, prometheus) {seen}")
        print(f"scrape_samples_scraped = {seen[-1][1]} = samples parsed from /metrics", flush=True)

        # The API's socket count for sample N against sum(netstatd_sockets) at the scrape
        # that served sample N. /api/v1/status takes no sample, so it shows the sample the
        # newest scrape took; two equal reads in a row mean no sample landed in between.
        status_counts = {}
        previous = None
        watch_until = min(deadline, time.monotonic() + 3)
        while time.monotonic() < watch_until:
            status = json.loads(get(f"{base}/api/v1/status")[1])
            reading = (status["samples"], status["last_sample"]["sockets"])
            if reading == previous:
                status_counts[reading[0]] = reading[1]
            previous = reading
            time.sleep(0.05)
        time.sleep(1.2)  # the last scrape is in storage
        series = query('netstatd_samples_total{job="netstatd"}[30s]')["result"][0]["values"]
        compared = []
        for at, value in series:
            number = int(float(value))
            if number in status_counts:
                total = query('sum(netstatd_sockets{job="netstatd"})', at=at)["result"]
                prometheus_sum = int(float(total[0]["value"][1]))
                compared.append((number, status_counts[number], prometheus_sum))
        if not compared:
            fail(f"no scrape matched a sample /api/v1/status showed: status {status_counts}, scrapes {series}")
        wrong = [row for row in compared if row[1] != row[2]]
        if wrong:
            fail(f"sum(netstatd_sockets) differs from /api/v1/status (sample, api, prometheus): {wrong}")
        print(f"sum(netstatd_sockets) = /api/v1/status sockets at {len(compared)} samples: {compared}", flush=True)

        _, body = get(f"{api}/api/v1/rules")
        groups = json.loads(body)["data"]["groups"]
        rules_seen = [rule for group in groups for rule in group["rules"]]
        broken = [(rule["name"], rule.get("lastError")) for rule in rules_seen if rule.get("health") == "err"]
        if not rules_seen or broken:
            fail(f"rules: {len(rules_seen)} loaded, failing: {broken}")
        print(f"{len(rules_seen)} rules loaded from {os.path.basename(rules)}, none failing", flush=True)
        print(f"ok in {time.monotonic() - started:.1f} s", flush=True)
    finally:
        stop(prometheus)
        stop(netstatd)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
