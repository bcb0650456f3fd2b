#!/usr/bin/env python3
"""Every query of the Grafana dashboard, run by a real Prometheus scraping a real `netstatd serve`.

usage: grafana_panels.py NETSTATD_BINARY DASHBOARD_JSON

Checks the dashboard's shape (schemaVersion, the DS_PROMETHEUS datasource variable, the
`instance` variable from label_values(netstatd_sockets, instance), a datasource and
targets on every panel, unique ids), that every netstatd metric a query names is in
netstatd's /metrics, then starts netstatd on a free loopback port (history in a temporary
file, so close events are followed; sampling every second) and prometheus scraping it
every second. It makes the activity some series need: a listener with connections
accepted and closed (closed connections by port, close events), one held ESTABLISHED,
one left in CLOSE_WAIT, two waiting in a listener's accept queue, a bound UDP socket.
Then it resolves the `instance` variable as Grafana does (label values of
netstatd_sockets), substitutes the template variables ($instance as Grafana's regex of
all values, $__rate_interval, $__interval, $__range), and runs each target: a range
query (an instant one for instant targets) that must parse and return at least one
series. A query ending in `or on() vector(0)` (a count that is absent at zero) must also
return data without that fallback. Kills both at the end. Prints what it saw; exits 1 on
the first failed check. Needs CAP_NET_ADMIN (root) for close events; run it in a private
network namespace when possible (the Swift test does, as root).
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from live_daemons import fail, get, start_netstatd, start_prometheus, stop, wait_for  # noqa: E402

DEADLINE_SECONDS = 60
# What Grafana would put for its built-in variables with a 1 s scrape interval and a
# short time range; $__rate_interval is at least four scrape intervals.
BUILTINS = {
    "__rate_interval": "15s",
    "__interval": "5s",
    "__interval_ms": "5000",
    "__range": "1m",
    "__range_s": "60",
    "__range_ms": "60000",
}
# Series Prometheus adds to every target it scrapes (not in netstatd's /metrics).
PROMETHEUS_OWN = {"up", "scrape_duration_seconds", "scrape_samples_scraped",
                  "scrape_samples_post_metric_relabeling", "scrape_series_added"}
FALLBACK = re.compile(r"\s+or\s+on\s*\(\s*\)\s+vector\(0\)\s*$")
DATASOURCE = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
# Enough scrapes that a rate over $__rate_interval has two points at every step checked.
SCRAPES_BEFORE_CHECKING = 6
RANGE_SECONDS = 5


def check_shape(dashboard):
    """The dashboard's own structure; returns its query panels."""
    if dashboard.get("schemaVersion", 0) < 36:
        fail(f"schemaVersion {dashboard.get('schemaVersion')}: expected 36 or later (Grafana 9+)")
    variables = {variable["name"]: variable for variable in dashboard.get("templating", {}).get("list", [])}
    source = variables.get("DS_PROMETHEUS")
    if not source or source.get("type") != "datasource" or source.get("query") != "prometheus":
        fail(f"no datasource variable DS_PROMETHEUS of type prometheus: {source}")
    instance = variables.get("instance")
    query = instance and instance.get("query")
    if isinstance(query, dict):
        query = query.get("query")
    if not instance or instance.get("type") != "query" or query != "label_values(netstatd_sockets, instance)":
        fail(f"the instance variable is not label_values(netstatd_sockets, instance): {instance}")
    if instance.get("datasource") != DATASOURCE:
        fail(f"the instance variable's datasource is {instance.get('datasource')}, expected {DATASOURCE}")
    unknown = set(variables) - {"DS_PROMETHEUS", "instance"}
    if unknown:
        fail(f"variables this script does not substitute: {sorted(unknown)}")

    panels = []
    for panel in dashboard.get("panels", []):
        panels.append(panel)
        panels.extend(panel.get("panels", []))  # collapsed rows hold their panels
    ids = [panel.get("id") for panel in panels]
    if len(ids) != len(set(ids)) or None in ids:
        fail(f"panel ids missing or repeated: {ids}")
    queried = []
    for panel in panels:
        grid = panel.get("gridPos", {})
        if not (0 <= grid.get("x", -1) and grid.get("x", 0) + grid.get("w", 99) <= 24 and grid.get("h", 0) > 0):
            fail(f"panel {panel.get('title')!r}: gridPos {grid} is not within 24 columns")
        if panel.get("type") == "row":
            continue
        targets = panel.get("targets", [])
        if panel.get("datasource") != DATASOURCE or not targets:
            fail(f"panel {panel.get('title')!r}: datasource {panel.get('datasource')}, {len(targets)} targets; expected {DATASOURCE} and at least one")
        references = [target.get("refId") for target in targets]
        if len(references) != len(set(references)) or None in references:
            fail(f"panel {panel['title']!r}: refIds missing or repeated: {references}")
        for target in targets:
            if not target.get("expr"):
                fail(f"panel {panel['title']!r} target {target.get('refId')}: no expr")
        queried.append(panel)
    return queried


def metric_names(expression):
    """The metric names an expression selects (every selector here has braces)."""
    return set(re.findall(r"\b(netstatd_[a-z0-9_]+)\b", expression)) | set(re.findall(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{", expression))


def grafana_regex(values):
    """What Grafana's Prometheus datasource puts for a multi-value variable in `=~"..."`:
    each value with regex metacharacters escaped for a PromQL string, joined in a group."""
    def escape(value):
        value = value.replace("\\", "\\\\\\\\")
        return re.sub(r"[$^*{}\[\]'+?.()|]", lambda match: "\\\\" + match.group(0), value)
    return "(" + "|".join(escape(value) for value in values) + ")"


def substitute(expression, variables):
    def replace(match):
        name = match.group(1) or match.group(2) or match.group(3)
        if name not in variables:
            fail(f"unknown variable {match.group(0)} in {expression}")
        return variables[name]
    result = re.sub(r"\$\{(\w+)\}|\[\[(\w+)\]\]|\$(\w+)", replace, expression)
    return result


class Activity:
    """Sockets in the states some series need, held until close()."""

    def __init__(self):
        self.held = []
        self.listener = self.hold(socket.create_server(("127.0.0.1", 0), backlog=16))
        self.port = self.listener.getsockname()[1]
        # Held ESTABLISHED pair.
        self.hold(socket.create_connection(("127.0.0.1", self.port)))
        self.hold(self.listener.accept()[0])
        # The client closes, the server side is kept: CLOSE_WAIT (inbound, this port).
        client = socket.create_connection(("127.0.0.1", self.port))
        self.hold(self.listener.accept()[0])
        client.close()
        # Two connections never accepted: an accept queue of 2 against a backlog of 4.
        self.queue = self.hold(socket.create_server(("127.0.0.1", 0), backlog=4))
        for _ in range(2):
            self.hold(socket.create_connection(self.queue.getsockname()))
        udp = self.hold(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
        udp.bind(("127.0.0.1", 0))

    def hold(self, sock):
        self.held.append(sock)
        return sock

    def close_some(self, count):
        """Connections accepted on the listener, a few bytes each way, then closed."""
        for _ in range(count):
            client = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            server, _ = self.listener.accept()
            client.sendall(b"ping")
            server.recv(4)
            server.sendall(b"pong")
            client.recv(4)
            server.close()
            client.close()

    def close(self):
        for sock in self.held:
            sock.close()


def main():
    if len(sys.argv) != 3:
        fail(__doc__.splitlines()[2])
    binary, dashboard_path = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    for tool in ("prometheus", "promtool"):
        if not shutil.which(tool):
            fail(f"{tool} is not installed (apt-get install --no-install-recommends prometheus)")
    with open(dashboard_path) as file:
        dashboard = json.load(file)
    panels = check_shape(dashboard)
    targets = [(panel, target) for panel in panels for target in panel["targets"]]
    print(f"{os.path.basename(dashboard_path)}: schemaVersion {dashboard['schemaVersion']}, "
          f"{len(panels)} panels, {len(targets)} queries", flush=True)

    started = time.monotonic()
    deadline = started + DEADLINE_SECONDS
    work = tempfile.mkdtemp(prefix="netstatd-grafana-")
    netstatd = prometheus = activity = None
    try:
        netstatd, port = start_netstatd(binary, work, ["--db", os.path.join(work, "netstatd.db"), "--interval", "1", "--namespaces", "host"], deadline)
        base = f"http://127.0.0.1:{port}"

        def close_events_running():
            history = json.loads(get(f"{base}/api/v1/status")[1])["history"]
            events = history["close_events"]
            if not events["running"] and events.get("unavailable"):
                fail(f"close events do not run (needs CAP_NET_ADMIN: run as root): {events['unavailable']}")
            return events["running"]
        wait_for("close events to run", close_events_running, deadline)

        activity = Activity()
        activity.close_some(3)

        prometheus, api, prom_log_path = start_prometheus(work, port)

        def ready():
            if prometheus.poll() is not None:
                fail("prometheus exited: " + open(prom_log_path).read()[-2000:])
            return get(f"{api}/-/ready")[0] == 200

        wait_for("prometheus to be ready", ready, deadline)
        print(f"prometheus ready after {time.monotonic() - started:.1f} s", flush=True)

        def api_get(path, parameters):
            try:
                _, body = get(f"{api}{path}?" + urllib.parse.urlencode(parameters, doseq=True))
            except urllib.error.HTTPError as error:
                body = error.read().decode()
            answer = json.loads(body)
            if answer.get("status") != "success":
                return None, f"{answer.get('errorType')}: {answer.get('error')}"
            return answer["data"], None

        def scrapes():
            data, _ = api_get("/api/v1/query", {"query": 'count_over_time(up{job="netstatd"}[1m])'})
            return data and data["result"] and float(data["result"][0]["value"][1]) >= SCRAPES_BEFORE_CHECKING
        # Connections keep closing while the scrapes come, so the closed-connection
        # rates move within the window the queries read.
        def close_and_count():
            activity.close_some(1)
            return scrapes()
        wait_for(f"{SCRAPES_BEFORE_CHECKING} scrapes", close_and_count, deadline)
        print(f"{SCRAPES_BEFORE_CHECKING} scrapes after {time.monotonic() - started:.1f} s", flush=True)

        # Every netstatd name a query selects is in the exposition (a sample after the
        # activity above, so the series that need it are there).
        named = set().union(*(metric_names(target["expr"]) for _, target in targets))
        exported = set()

        def all_exported():
            _, text = get(f"{base}/metrics")
            exported.clear()
            exported.update(sample.name for family in text_string_to_metric_families(text) for sample in family.samples)
            return all(name in exported or name in PROMETHEUS_OWN for name in named)
        names_until = min(deadline, time.monotonic() + 10)
        while not all_exported():
            if time.monotonic() > names_until:
                fail(f"queries name metrics netstatd does not export: {sorted(named - exported - PROMETHEUS_OWN)}")
            time.sleep(0.5)
        ours = sorted(name for name in named if name in exported)
        theirs = sorted(named - set(ours))
        print(f"{len(ours)} netstatd metrics named, all in /metrics ({len(exported)} names there); "
              f"Prometheus' own: {', '.join(theirs) or 'none'}", flush=True)

        # The instance variable, resolved as Grafana's label_values() does.
        instances, error = api_get("/api/v1/label/instance/values", {"match[]": "netstatd_sockets"})
        if error or not instances:
            fail(f"label_values(netstatd_sockets, instance) gave {instances} {error or ''}")
        if f"127.0.0.1:{port}" not in instances:
            fail(f"label_values(netstatd_sockets, instance) = {instances}: the scraped netstatd is not there")
        variables = dict(BUILTINS, instance=grafana_regex(instances), DS_PROMETHEUS="prometheus")
        print(f"$instance = {instances} -> {variables['instance']}", flush=True)

        def run(expression, instant):
            now = time.time()
            if instant:
                return api_get("/api/v1/query", {"query": expression, "time": repr(now)})
            return api_get("/api/v1/query_range", {"query": expression, "start": repr(now - RANGE_SECONDS),
                                                   "end": repr(now), "step": "1"})

        checks = []
        for panel, target in targets:
            expression = substitute(target["expr"], variables)
            name = f"{panel['title']} / {target['refId']}"
            instant = bool(target.get("instant")) and not target.get("range", False)
            checks.append((name, expression, instant))
            bare = FALLBACK.sub("", expression)
            if bare != expression:
                checks.append((f"{name} without its `or vector(0)`", bare, instant))

        pending = list(checks)
        seen = {}
        rounds = 0
        while pending and rounds < 20:
            rounds += 1
            still = []
            for name, expression, instant in pending:
                data, error = run(expression, instant)
                if error:
                    fail(f"{name}: Prometheus rejects {expression}: {error}")
                if data["result"]:
                    seen[name] = data["result"]
                else:
                    still.append((name, expression, instant))
            pending = still
            if pending:
                if time.monotonic() > deadline:
                    break
                activity.close_some(1)
                time.sleep(1)
        for name, expression, instant in checks:
            if name in seen:
                result = seen[name]
                values = [series["value"] if instant else series["values"][-1] for series in result]
                labels = [{k: v for k, v in series["metric"].items() if k not in ("job",)} for series in result]
                shown = ", ".join(f"{label or '{}'}={value[1]}" for label, value in list(zip(labels, values))[:3])
                more = f" (+{len(result) - 3})" if len(result) > 3 else ""
                print(f"  ok  {name} [{'instant' if instant else 'range'}]: {len(result)} series: {shown}{more}", flush=True)
        if pending:
            fail("queries that returned no data: " + "; ".join(f"{name}: {expression}" for name, expression, _ in pending))
        print(f"{len(panels)} panels, {len(targets)} queries ({len(checks)} checks with the fallback-free forms): "
              f"all parse, all returned data; ok in {time.monotonic() - started:.1f} s", flush=True)
    finally:
        if activity:
            activity.close()
        stop(prometheus)
        stop(netstatd)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
