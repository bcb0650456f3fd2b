#!/usr/bin/env python3
"""netstatd's page (GET /) in a real headless browser: Debian's chromium and
chromedriver, driven by Python's selenium.

Run as root inside a private network namespace; BrowserPageTests (Tests/APITests)
does it for `swift test`. By hand:

    ip netns add page && ip -n page link set lo up
    ip netns exec page python3 Tests/Browser/test_page.py --binary .build/debug/netstatd
    ip netns del page

It starts the socket zoo (Tests/TestSupport/zoo.py) and `netstatd serve` on a free
loopback port with history (--interval 1, a temporary --db); two tests start their own:
one with a token and --no-history, one sampling only every 30 s (to see polls answered
304). Then it checks what the page shows against what the API answers.
Each test saves a screenshot under .build/screenshots/. Nothing is downloaded: selenium
is given the browser and the driver, and SE_OFFLINE keeps selenium-manager from running;
in the namespace nothing but loopback is reachable anyway.
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

os.environ["SE_OFFLINE"] = "true"
os.environ["SE_AVOID_STATS"] = "true"

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
TOKEN = "page-test-token-7f3a"
# Waits are generous: the machine may be busy building (the test shares it), and a
# wait only lasts this long when something is wrong.
PATIENCE = float(os.environ.get("PAGE_TEST_PATIENCE", "4"))


class Failure(AssertionError):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


def wait_for(probe, timeout, message, interval=0.1):
    """Calls probe until it returns something truthy; fails with message after timeout s
    (times PATIENCE)."""
    timeout *= PATIENCE
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = probe()
            if value:
                return value
        except Failure as error:
            last_error = error
        time.sleep(interval)
    raise Failure(f"{message} (waited {timeout} s){': ' + str(last_error) if last_error else ''}")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(base, path, token=None):
    """GET base+path; returns (status, headers, parsed JSON or text)."""
    request = urllib.request.Request(base + path, headers={"Accept": "application/json"})
    if token:
        request.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(request, timeout=10 * PATIENCE) as response:
            body = response.read()
            status, headers = response.status, response.headers
    except urllib.error.HTTPError as error:
        body, status, headers = error.read(), error.code, error.headers
    if "json" in (headers.get("Content-Type") or ""):
        return status, headers, json.loads(body)
    return status, headers, body.decode()


def picker_value(test):
    return test.js("return document.getElementById('netns-picker').value")


class Server:
    """`netstatd serve` on a free loopback port until stopped."""

    def __init__(self, binary, workdir, name, history=True, token=None, interval="1"):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.token = token
        arguments = [binary, "serve", "--listen", f"127.0.0.1:{self.port}", "--interval", interval]
        arguments += ["--db", str(Path(workdir) / f"{name}.db")] if history else ["--no-history"]
        environment = dict(os.environ)
        environment.pop("NETSTATD_TOKEN", None)
        if token:
            environment["NETSTATD_TOKEN"] = token
        self.log = open(Path(workdir) / f"{name}.log", "w+")
        self.process = subprocess.Popen(arguments, env=environment, stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(lambda: self.answers(), 15, f"netstatd serve ({name}) did not answer /healthz")

    def answers(self):
        check(self.process.poll() is None, f"netstatd serve exited with {self.process.returncode}: {self.output()}")
        try:
            return get(self.base, "/healthz")[0] == 200
        except OSError:
            return False

    def output(self):
        self.log.seek(0)
        return self.log.read()[-2000:]

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


class Zoo:
    """Tests/TestSupport/zoo.py: sockets in known states until stopped, or until it
    gives up by itself after 120 s (see `fresh`)."""

    LIFETIME = 120

    def __init__(self):
        self.process = subprocess.Popen([sys.executable, str(ROOT / "Tests/TestSupport/zoo.py")],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.made = json.loads(self.process.stdout.readline())
        self.born = time.monotonic()

    def fresh(self, seconds=60):
        """This zoo, or a new one when this one has less than `seconds` left to live."""
        if time.monotonic() - self.born < self.LIFETIME - seconds and self.process.poll() is None:
            return self
        self.stop()
        return Zoo()

    def port(self, group, key):
        return self.made[group][key]

    def stop(self):
        self.process.stdin.close()
        self.process.wait(10)


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in [
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--window-size=1440,900", "--lang=en-US", "--no-first-run", "--no-default-browser-check",
        "--disable-extensions", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--disable-default-apps", "--disable-features=Translate,OptimizationHints,MediaRouter",
        "--force-prefers-color-scheme=light",
    ]:
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


class PageTests:
    def __init__(self, driver, zoo, live, binary, workdir, screenshots):
        self.driver = driver
        self.zoo = zoo
        self.live = live
        self.binary = binary
        self.workdir = workdir
        self.screenshots = screenshots
        self.notes = []

    def serve(self, name, **options):
        """Another `netstatd serve` for one test (the caller stops it): fewer servers
        sampling at once is less load on a machine that may be busy."""
        return Server(self.binary, self.workdir, name, **options)

    def sample_cost(self, server):
        """How long the server's last sample took, in ms (slow when the machine is busy)."""
        try:
            status = get(server.base, "/api/v1/status", server.token)[2]
            return (status.get("last_sample") or {}).get("duration_ms") or 0
        except (OSError, ValueError, AttributeError):
            return 0

    # ---- helpers ----------------------------------------------------------------

    def js(self, script, *arguments):
        return self.driver.execute_script(script, *arguments)

    def open(self, server, query=""):
        self.driver.get(server.base + "/" + query)
        wait_for(lambda: self.js("return document.readyState") == "complete", 10, "the page did not load")

    def fresh_zoo(self):
        """A busy machine can make the run outlast the zoo: each test gets one with a minute left."""
        self.zoo = self.zoo.fresh()
        return self.zoo

    def on(self, server):
        """Opens the page of `server` unless the browser is on it already."""
        if not self.driver.current_url.startswith(server.base + "/"):
            self.open(server)

    def screenshot(self, name):
        """The whole page, as tall as it is, at the laptop's width."""
        height = self.js("return Math.max(document.documentElement.scrollHeight, 900)")
        self.driver.set_window_size(1440, min(height, 4000) + 140)
        time.sleep(0.3)  # let the charts redraw at the new size
        self.driver.save_screenshot(str(self.screenshots / f"{name}.png"))
        self.driver.set_window_size(1440, 900)

    def console(self, allowed=None):
        """The browser's log since the last call; fails on any error or warning not `allowed`."""
        problems = []
        for entry in self.driver.get_log("browser"):
            if entry["level"] not in ("SEVERE", "WARNING"):
                continue
            if allowed and allowed(entry):
                continue
            problems.append(f"{entry['level']} {entry['source']}: {entry['message']}")
        check(not problems, "the browser's console has errors:\n" + "\n".join(problems))

    def requests(self, fragment):
        """URLs of the page's fetches containing `fragment` (Resource Timing)."""
        return self.js("return performance.getEntriesByType('resource').map(e => e.name).filter(n => n.includes(arguments[0]))", fragment)

    def rows(self, tbody_id, attributes):
        return self.js("""
            return Array.from(document.querySelectorAll('#' + arguments[0] + ' tr')).map(tr => {
                const row = {cells: Array.from(tr.cells).map(td => td.textContent.trim())};
                for (const name of arguments[1]) row[name] = tr.dataset[name];
                return row;
            });""", tbody_id, attributes)

    # ---- the tests ----------------------------------------------------------------

    def test_listeners_and_exposure(self):
        self.fresh_zoo()
        self.open(self.live)
        zoo_ports = {
            self.zoo.port("listen", "lo4"): "loopback",
            self.zoo.port("listen", "any4"): "all",
            self.zoo.port("listen", "any6"): "all (IPv6 and IPv4)",
            self.zoo.port("listen", "lo6"): "loopback",
            self.zoo.port("full", "port"): "loopback",
            self.zoo.port("udp", "bound"): "loopback",
        }

        def api_lists_them():
            answer = get(self.live.base, "/api/v1/listeners")[2]
            by_port = {}
            for item in answer["items"]:
                by_port.setdefault(item["local"]["port"], []).append(item)
            return by_port if set(zoo_ports) <= set(by_port) else None
        expected = wait_for(api_lists_them, 10, "the API does not list the zoo's listeners")

        def listed():
            rows = self.rows("listeners-rows", ["port"])
            ports = {int(r["port"]) for r in rows}
            missing = set(zoo_ports) - ports
            check(not missing, f"listeners missing from the page: {sorted(missing)}; shown: {sorted(ports)}")
            return rows
        rows = wait_for(listed, 10, "the page does not list the zoo's listeners")
        by_port = {}
        for row in rows:
            by_port.setdefault(int(row["port"]), []).append(row)
        for port, exposure in zoo_ports.items():
            (row,) = by_port[port]
            proto, address, shown_exposure, queue, owners = row["cells"]
            (api,) = expected[port]
            check(shown_exposure == exposure, f"port {port}: exposure {shown_exposure!r}, expected {exposure!r}")
            check(api["exposure"] in shown_exposure, f"port {port}: page says {shown_exposure!r}, API says {api['exposure']!r}")
            check(address.endswith(f":{port}") and api["local"]["address"] in address, f"port {port}: address {address!r}")
            if "accept_queue" in api:
                q = api["accept_queue"]
                check(queue == f"{q['depth']} / {q['backlog']}", f"port {port}: accept queue {queue!r}, API {q}")
            for owner in api["processes"]:
                check(f"{owner['pid']}/{owner['name']}" in owners, f"port {port}: owner {owner['pid']} missing from {owners!r}")
        # The listener shared by the zoo and its child names both.
        shared = by_port[self.zoo.port("listen", "any4")][0]["cells"][4]
        for pid in self.zoo.made["pids"].values():
            check(f"{pid}/" in shared, f"the shared listener's owners {shared!r} lack {pid}")
        # The backlog-0 listener with a full queue shows a full bar.
        full = self.js("return document.querySelector('#listeners-rows tr[data-port=\"' + arguments[0] + '\"] .meter').className",
                       str(self.zoo.port("full", "port")))
        check("full" in full, f"the full listener's bar is {full!r}")
        # Owners (processes): the zoo's parent with its listening ports.
        parent = self.zoo.made["pids"]["parent"]
        owners = wait_for(lambda: [r for r in self.rows("processes-rows", []) if r["cells"][0] == f"{parent}/python3"], 5,
                          "the zoo's process is not among the owners")
        check(str(self.zoo.port("listen", "lo4")) in owners[0]["cells"][2], f"owners row {owners[0]['cells']}")
        self.screenshot("listeners_and_exposure")
        self.console()

    def test_state_counts_match_the_api(self):
        self.fresh_zoo()
        self.on(self.live)
        # The page and the test read the same sample when the test asks right after the
        # page refreshed: a new sample comes every second, the page polls every two.
        shown_script = """
            const counts = {};
            for (const tr of document.querySelectorAll('#states-rows tr')) counts[tr.dataset.state] = Number(tr.cells[1].textContent.replace(/[^0-9]/g, ''));
            return {takenAt: document.getElementById('states').dataset.takenAt,
                    total: Number(document.getElementById('states-total').textContent.replace(/[^0-9]/g, '')), counts};"""
        wait_for(lambda: self.js(shown_script)["takenAt"], 10, "the page shows no state counts")
        attempts = []
        for _ in range(8):
            before = self.js(shown_script)["takenAt"]
            wait_for(lambda: self.js(shown_script)["takenAt"] != before, 6, "the state counts did not refresh", interval=0.02)
            _, _, answer = get(self.live.base, "/api/v1/stats/states")
            shown = self.js(shown_script)
            attempts.append((shown["takenAt"], answer["taken_at"]))
            if shown["takenAt"] != answer["taken_at"]:
                continue
            check(shown["counts"] == answer["by_state"], f"page shows {shown['counts']}, API says {answer['by_state']}")
            check(shown["total"] == answer["total"], f"page total {shown['total']}, API total {answer['total']}")
            for state in ("LISTEN", "ESTABLISHED", "CLOSE_WAIT", "FIN_WAIT2", "TIME_WAIT", "SYN_SENT", "UNCONN"):
                check(shown["counts"].get(state, 0) >= 1, f"the zoo's {state} is not counted: {shown['counts']}")
            self.screenshot("state_counts")
            self.console()
            return
        raise Failure(f"never caught the page and the API on the same sample: {attempts}")

    def test_polls_are_conditional_and_update_in_place(self):
        # A server sampling every 30 s: between the page's rounds nothing new is sampled
        # but what a round itself asks for (a sample at most a second old).
        quiet = self.serve("quiet", history=False, interval="30")
        try:
            self.polls_are_conditional(quiet)
        finally:
            quiet.stop()

    def polls_are_conditional(self, quiet):
        self.fresh_zoo()
        self.open(quiet)
        wait_for(lambda: len(self.rows("listeners-rows", [])) >= 6, 10, "no listeners")
        # Mark nodes that must survive every refresh: updated in place, never rebuilt.
        # Each answer renders as it comes, so wait until all four are there.
        marked = wait_for(lambda: all(self.js("""
            const nodes = [
                document.querySelector('#listeners-rows tr[data-port="' + arguments[0] + '"]'),
                document.querySelector('#states-rows tr[data-state="LISTEN"]'),
                document.querySelector('#health-list li[data-name="tcp_retransmission_ratio"]'),
                document.querySelector('#processes-rows tr[data-key^="' + arguments[1] + '|"]'),
            ];
            window.__marked = nodes;
            return nodes.map(n => !!n);""", str(self.zoo.port("listen", "lo4")), str(self.zoo.made["pids"]["parent"]))), 10,
            "the listener, state, health and process to watch never all showed")
        check(marked, "nothing to watch")
        start = self.js("return document.getElementById('states').dataset.takenAt")
        wait_for(lambda: self.js("return document.getElementById('states').dataset.takenAt") != start, 8, "no refresh")
        # Every poll sends If-None-Match. Under "current means at most a second old" a
        # poll two seconds later takes a new sample, so to see a 304 the test brings the
        # tab back (visibilitychange), which polls at once: the same sample, so 304s.
        def not_modified():
            self.js("document.dispatchEvent(new Event('visibilitychange'))")
            return self.js("""return performance.getEntriesByType('resource')
                .filter(e => e.responseStatus === 304 && /api\\/v1\\/(listeners|stats\\/states|processes|connections)/.test(e.name))
                .map(e => e.name);""")
        try:
            seen = wait_for(not_modified, 8, "no poll was answered 304", interval=0.15)
            check(any("/api/v1/listeners" in u for u in seen) or any("/api/v1/stats/states" in u for u in seen), f"304s: {seen}")
        except Failure:
            # Two rounds share a sample only when a round takes less than a second, so
            # on a machine too busy for that a 304 cannot be seen: noted, not failed.
            cost = self.sample_cost(quiet)
            if cost < 500:
                raise
            self.notes.append(f"no 304 seen: samples take {cost:.0f} ms here, so no two polls shared one")
        before = self.js("return document.getElementById('states').dataset.takenAt")
        wait_for(lambda: self.js("return document.getElementById('states').dataset.takenAt") != before, 8, "no refresh after the 304s")
        alive = self.js("""
            const now = [
                document.querySelector('#listeners-rows tr[data-port="' + arguments[0] + '"]'),
                document.querySelector('#states-rows tr[data-state="LISTEN"]'),
                document.querySelector('#health-list li[data-name="tcp_retransmission_ratio"]'),
                document.querySelector('#processes-rows tr[data-key^="' + arguments[1] + '|"]'),
            ];
            return window.__marked.map((n, i) => n === now[i] && n.isConnected);""",
            str(self.zoo.port("listen", "lo4")), str(self.zoo.made["pids"]["parent"]))
        check(all(alive), f"rows were rebuilt instead of updated in place: {alive}")
        self.screenshot("polls_in_place")
        self.console()

    def test_window_picker_changes_the_history_request(self):
        self.open(self.live)
        wait_for(lambda: self.requests("/api/v1/history/states?from=-1h&step=20s"), 10, "the default window (1 h) was never asked for")
        for label, expected in (("w-6h", "from=-6h&step=2m"), ("w-7d", "from=-7d&step=1h"), ("w-15m", "from=-15m&step=5s")):
            self.driver.find_element(By.CSS_SELECTOR, f"label[for={label}]").click()
            wait_for(lambda: self.requests("/api/v1/history/states?" + expected), 5, f"choosing {label} did not ask for {expected}")
            wait_for(lambda: self.requests("/api/v1/history/protocols?" + expected), 5, f"choosing {label} did not ask the counters for {expected}")
            wait_for(lambda: self.js("return document.getElementById('history').dataset.loaded") == "/api/v1/history/states?" + expected,
                     5, f"the {label} chart was not drawn")
            window = label[2:]
            if window == "1h":
                continue
            check(f"window={window}" in self.driver.current_url, f"the URL {self.driver.current_url} does not keep window={window}")
        # A counter picked is asked for, and kept in the URL.
        self.driver.find_element(By.CSS_SELECTOR, "label[for='counter-Tcp-ActiveOpens']").click()
        wait_for(lambda: self.requests("counter=Tcp.ActiveOpens"), 5, "picking Active opens did not ask for Tcp.ActiveOpens")
        check("Tcp.ActiveOpens" in self.driver.current_url, f"the URL {self.driver.current_url} does not keep the counters")
        # 15 minutes at a 5 s step: the zoo's sockets have been sampled for a few buckets by now.
        wait_for(lambda: self.js("return document.querySelectorAll('#chart-states .dots circle').length") >= 2, 15,
                 "the states chart has no points")
        self.screenshot("window_picker")
        self.console()

    def test_clicking_the_chart_shows_the_table_then(self):
        self.on(self.live)
        if not self.js("return document.getElementById('w-15m').checked"):
            self.driver.find_element(By.CSS_SELECTOR, "label[for=w-15m]").click()
        wait_for(lambda: self.js("return document.querySelectorAll('#chart-states .dots g:first-child circle').length") >= 2, 15,
                 "the states chart has fewer than two points")
        # The second-to-last point: a closed bucket, so the table is history. Clicked by
        # its place on the chart (the chart redraws its dots, never the chart itself).
        chart = self.driver.find_element(By.CSS_SELECTOR, "#chart-states svg")
        dx, dy = self.js("""
            const circles = document.querySelectorAll('#chart-states .dots g:first-child circle');
            const dot = circles[circles.length - 2].getBoundingClientRect();
            const box = arguments[0].getBoundingClientRect();
            return [Math.round(dot.x + dot.width / 2 - (box.x + box.width / 2)), Math.round(dot.y + dot.height / 2 - (box.y + box.height / 2))];""", chart)
        ActionChains(self.driver).move_to_element_with_offset(chart, dx, dy).click().perform()
        wait_for(lambda: self.js("return document.getElementById('connections').dataset.at"), 5,
                 "clicking the chart did not pin the table to a moment")
        at = self.js("return document.getElementById('connections').dataset.at")
        fetched = wait_for(lambda: [u for u in self.requests("/api/v1/connections?") if "at=" in u], 5, "no at= request was made")
        check(any(urllib.parse.quote(at, safe="") in u or at in u for u in fetched), f"the at= requests {fetched} do not name {at}")
        check("at=" in self.driver.current_url, f"the URL {self.driver.current_url} does not keep at=")
        summary = self.js("return document.getElementById('connections-summary').textContent")
        check("as they stood at" in summary, f"the table's summary {summary!r} does not say it is a past moment")
        check(self.driver.find_element(By.ID, "back-to-live").is_displayed(), "no way back to live")
        # The table is the API's at= answer.
        _, _, answer = get(self.live.base, "/api/v1/connections?limit=200&at=" + urllib.parse.quote(at))
        rows = self.rows("connections-rows", ["state"])
        check(len(rows) == len(answer["items"]) > 0, f"the page shows {len(rows)} rows, the API's at= table has {len(answer['items'])}")
        check(self.js("return document.getElementById('connections').dataset.takenAt") == answer["taken_at"],
              "the page's past table is not the API's")
        self.screenshot("chart_click_at_table")
        # The keyboard does the same: focus the chart, End, Enter.
        self.driver.find_element(By.ID, "back-to-live").click()
        wait_for(lambda: not self.js("return document.getElementById('connections').dataset.at"), 5, "Back to live did not go back")
        chart.send_keys(Keys.END)
        chart.send_keys(Keys.ENTER)
        wait_for(lambda: self.js("return document.getElementById('connections').dataset.at"), 5, "Enter on the chart did not pin the table")
        self.driver.find_element(By.ID, "back-to-live").click()
        wait_for(lambda: not self.js("return document.getElementById('connections').dataset.at"), 5, "Back to live did not go back")
        self.console()

    def test_search_filters_and_is_kept_in_the_url(self):
        self.fresh_zoo()
        self.on(self.live)
        port = self.zoo.port("listen", "lo4")
        body = self.driver.find_element(By.TAG_NAME, "body")
        body.send_keys("/")
        check(self.js("return document.activeElement.id") == "search", "/ does not focus the search box")
        ActionChains(self.driver).send_keys(str(port), Keys.ENTER).perform()

        def only_port():
            rows = self.rows("connections-rows", ["localPort", "remotePort", "state"])
            check(rows, "no rows")
            check(all(str(port) in (r["localPort"], r["remotePort"]) for r in rows), f"rows not using port {port}: {rows[:3]}")
            return rows
        rows = wait_for(only_port, 6, f"typing {port} did not narrow the table to it")
        _, _, answer = get(self.live.base, f"/api/v1/connections?port={port}")
        check(len(rows) == answer["total"], f"the page shows {len(rows)} rows for port {port}, the API {answer['total']}")
        check(sorted(r["state"] for r in rows) == ["ESTABLISHED", "ESTABLISHED", "LISTEN"], f"states {[r['state'] for r in rows]}")
        check(f"q={port}" in self.driver.current_url, f"the URL {self.driver.current_url} does not carry the search")
        self.screenshot("search_port")
        # The link opens the same view.
        self.driver.get(self.driver.current_url)
        check(self.js("return document.getElementById('search').value") == str(port), "the shared link does not refill the search box")
        wait_for(only_port, 8, "the shared link does not filter the table")
        # A state word narrows by state.
        search = self.driver.find_element(By.ID, "search")
        search.clear()
        search.send_keys("close-wait", Keys.ENTER)
        wait_for(lambda: (lambda r: r and all(x["state"] == "CLOSE_WAIT" for x in r))(self.rows("connections-rows", ["state"])), 6,
                 "typing close-wait did not narrow the table to CLOSE_WAIT")
        check("q=close-wait" in self.driver.current_url, f"the URL {self.driver.current_url} does not carry the search")
        self.console()

    def test_namespace_picker_narrows_the_page(self):
        # The test runs in a namespace of its own; serve sees the host's too (as root).
        self.fresh_zoo()
        self.on(self.live)
        own = os.stat("/proc/self/ns/net").st_ino
        # Another namespace holding one known listener (the host's listeners come and go
        # with the other tests running beside this one).
        other_name = f"nsd-pagepick-{os.getpid()}"
        subprocess.run(["ip", "netns", "add", other_name], check=True)
        holder = None
        try:
            subprocess.run(["ip", "-n", other_name, "link", "set", "lo", "up"], check=True)
            holder = subprocess.Popen(
                ["ip", "netns", "exec", other_name, sys.executable, "-c",
                 "import socket, time\ns = socket.socket(); s.bind(('127.0.0.1', 47123)); s.listen()\nprint('ready', flush=True); time.sleep(120)"],
                stdout=subprocess.PIPE, text=True)
            check(holder.stdout.readline().strip() == "ready", "the other namespace's listener did not start")
            self.pick_namespaces(own, other_name)
        finally:
            if holder:
                holder.kill()
                holder.wait()
            subprocess.run(["ip", "netns", "del", other_name], stderr=subprocess.DEVNULL)

    def pick_namespaces(self, own, other_name):
        def listed():
            items = get(self.live.base, "/api/v1/namespaces")[2]["items"]
            return items if any(i["name"] == other_name for i in items) else None
        items = wait_for(listed, 10, f"/api/v1/namespaces does not list {other_name}")
        mine = next((i for i in items if i["inode"] == own), None)
        check(mine is not None, f"/api/v1/namespaces does not list the test's own namespace {own}: {items}")
        other = next(i for i in items if i["name"] == other_name)
        self.driver.get(self.driver.current_url)  # the picker's options are read at load
        wait_for(lambda: self.js("return !document.getElementById('netns-label').hidden"), 10,
                 "the namespace picker is not shown on a host with several namespaces")
        picker = Select(self.driver.find_element(By.ID, "netns-picker"))
        port = self.zoo.port("listen", "lo4")

        def choose(item):
            value = item["name"] or str(item["inode"])
            picker.select_by_value(value)
            check(f"netns={urllib.parse.quote(value)}" in self.driver.current_url,
                  f"the URL {self.driver.current_url} does not carry netns={value}")
            return value

        choose(mine)
        wait_for(lambda: port in {int(r["port"]) for r in self.rows("listeners-rows", ["port"])}, 8,
                 f"with its own namespace picked the page does not list the zoo's port {port}")
        self.screenshot("namespace_picker")
        elsewhere = choose(other)

        def shows_the_other():
            return {int(r["port"]) for r in self.rows("listeners-rows", ["port"])} == {47123}
        wait_for(shows_the_other, 8, f"with namespace {elsewhere} picked the listeners are not its one listener on 47123")
        # The link keeps the choice.
        self.driver.get(self.driver.current_url)
        wait_for(lambda: picker_value(self) == elsewhere, 8, "the shared link does not restore the namespace picked")
        Select(self.driver.find_element(By.ID, "netns-picker")).select_by_value("")
        check("netns=" not in self.driver.current_url, "picking all namespaces leaves netns= in the URL")
        self.console()

    def test_token_prompt_and_no_history(self):
        locked = self.serve("locked", history=False, token=TOKEN, interval="5")
        try:
            self.token_prompt(locked)
        finally:
            locked.stop()

    def token_prompt(self, locked):
        self.fresh_zoo()
        base = locked.base
        self.driver.get(base + "/")
        dialog = wait_for(lambda: self.js("return document.getElementById('token-dialog').open"), 10, "no token form after a 401")
        check(dialog and self.js("return document.activeElement.id") == "token-input", "the token field does not have the focus")
        self.screenshot("token_prompt")
        field = self.driver.find_element(By.ID, "token-input")
        field.send_keys("wrong-token", Keys.ENTER)
        wait_for(lambda: "refused" in self.js("return document.getElementById('token-error').textContent"), 5,
                 "a wrong token is not said to be refused")
        check(self.js("return document.getElementById('token-dialog').open"), "the form closed after a wrong token")
        field.send_keys(TOKEN, Keys.ENTER)
        wait_for(lambda: not self.js("return document.getElementById('token-dialog').open"), 5, "the form stays after the right token")
        check(self.js("return sessionStorage.getItem('netstatd.token')") == TOKEN, "the token is not kept in sessionStorage")
        wait_for(lambda: len(self.rows("listeners-rows", [])) >= 6, 8, "no listeners after giving the token")
        wait_for(lambda: "token in use" in self.js("return document.getElementById('status-text').textContent"), 5,
                 "the status line does not say a token is in use")
        # History is off: said once, calmly, and no history endpoint is called.
        notice = self.driver.find_element(By.ID, "history-off")
        check(notice.is_displayed() and "--no-history" in notice.text, f"history-off notice: {notice.text!r}")
        check(not self.driver.find_element(By.ID, "history-charts").is_displayed(), "the charts show without history")
        check(not self.requests("/api/v1/history/"), "the page asked for history that is off")
        # The 401s before the token are the only console errors.
        self.console(allowed=lambda e: e["source"] == "network" and "401" in e["message"] and base in e["message"])
        # A reload keeps the token: no form, data at once.
        self.driver.refresh()
        wait_for(lambda: len(self.rows("listeners-rows", [])) >= 6, 8, "no listeners after a reload with the token kept")
        check(not self.js("return document.getElementById('token-dialog').open"), "the form came back after a reload")
        self.screenshot("token_given_no_history")
        self.console()

    def test_dark_scheme_and_labels(self):
        self.fresh_zoo()
        self.open(self.live)
        light = self.js("return getComputedStyle(document.documentElement).backgroundColor")
        self.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": "dark"}]})
        dark = self.js("return getComputedStyle(document.documentElement).backgroundColor")
        numbers = [int(n) for n in re.findall(r"\d+", dark)[:3]]
        check(light != dark and sum(numbers) < 150, f"prefers-color-scheme: dark gives background {dark} (light: {light})")
        # Every control can be reached and is named.
        unnamed = self.js("""
            return Array.from(document.querySelectorAll('input, button, select, [tabindex]'))
                .filter(e => e.offsetParent !== null || e.type === 'radio' || e.type === 'checkbox')
                .filter(e => !((e.labels && e.labels.length) || e.getAttribute('aria-label') || e.textContent.trim()))
                .map(e => e.outerHTML.slice(0, 80));""")
        check(not unnamed, f"controls without a name: {unnamed}")
        wait_for(lambda: len(self.rows("listeners-rows", [])) >= 6, 8, "no listeners")
        wait_for(lambda: self.js("return document.querySelectorAll('#chart-states .dots circle').length") >= 2, 10, "no chart")
        self.screenshot("dark")
        self.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})
        self.console()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", default=str(ROOT / ".build/debug/netstatd"))
    parser.add_argument("--screenshots", default=str(ROOT / ".build/screenshots"))
    parser.add_argument("--report", help="write the results here as JSON")
    parser.add_argument("tests", nargs="*", help="only these tests (names without test_)")
    options = parser.parse_args()
    for tool in (CHROMIUM, CHROMEDRIVER, options.binary):
        if not os.access(tool, os.X_OK):
            sys.exit(f"test_page.py: {tool} is missing (scripts/install-deps installs chromium and chromium-driver)")
    screenshots = Path(options.screenshots)
    screenshots.mkdir(parents=True, exist_ok=True)
    for stale in screenshots.glob("*-failed.png"):  # what is there describes this run only
        stale.unlink()
    workdir = tempfile.mkdtemp(prefix="netstatd-page-")
    started = time.monotonic()
    results = []
    zoo = live = driver = tests = None
    try:
        zoo = Zoo()
        live = Server(options.binary, workdir, "live")
        driver = browser()
        print(f"setup: {time.monotonic() - started:.1f} s", flush=True)
        tests = PageTests(driver, zoo, live, options.binary, workdir, screenshots)
        names = [n for n in dir(PageTests) if n.startswith("test_")]
        names.sort(key=lambda n: PageTests.__dict__[n].__code__.co_firstlineno)
        for name in names:
            if options.tests and name[5:] not in options.tests:
                continue
            begun = time.monotonic()
            tests.notes = []
            try:
                getattr(tests, name)()
                result = {"name": name[5:], "ok": True, "message": ""}
            except Exception as error:  # one test failing must not hide the others
                # The sampler's cost says whether the machine was too busy to keep up.
                context = f"(netstatd's last sample took {tests.sample_cost(live):.0f} ms; load average {os.getloadavg()[0]:.1f})"
                result = {"name": name[5:], "ok": False,
                          "message": f"{error} {context}\n{traceback.format_exc(limit=3) if not isinstance(error, Failure) else ''}"}
                try:
                    driver.save_screenshot(str(screenshots / f"{name[5:]}-failed.png"))
                except Exception:
                    pass
            result["seconds"] = round(time.monotonic() - begun, 1)
            result["notes"] = tests.notes
            results.append(result)
            print(f"{'ok  ' if result['ok'] else 'FAIL'} {result['name']} ({result['seconds']} s) {result['message']}"
                  + "".join(f"\n     note: {n}" for n in tests.notes), flush=True)
    finally:
        if driver:
            driver.quit()
        if live:
            live.stop()
        if tests is not None:
            tests.zoo.stop()
        elif zoo:
            zoo.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    total = round(time.monotonic() - started, 1)
    print(f"{sum(r['ok'] for r in results)} of {len(results)} passed in {total} s; screenshots in {screenshots}")
    if options.report:
        Path(options.report).write_text(json.dumps({"seconds": total, "results": results}))
    sys.exit(0 if results and all(r["ok"] for r in results) else 1)


if __name__ == "__main__":
    main()
