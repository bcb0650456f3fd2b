import Foundation
import TestSupport
import Testing

/// True when python3 has prometheus_client's parser.
let hasPrometheusClient: Bool = (try? run(["python3", "-c", "import prometheus_client"]))?.status == 0

/// The shipped rules, checked and unit-tested with promtool.
@Suite(.enabled(if: TestEnvironment.hasTool("promtool"), "needs promtool (scripts/install-deps installs Debian's prometheus)"))
struct PrometheusRulesTests {
    static let directory = TestEnvironment.packageRoot.appendingPathComponent("deploy/prometheus").path

    @Test func rulesAreValid() throws {
        let result = try run(["promtool", "check", "rules", Self.directory + "/rules.yml"])
        #expect(result.status == 0, "\(result.text)\(result.stderr)")
    }

    @Test("every alert fires on series that should fire it, and not on the others")
    func rulesUnitTests() throws {
        let result = try run(["promtool", "test", "rules", Self.directory + "/rules_test.yml"], timeout: 60)
        #expect(result.status == 0, "\(result.text)\(result.stderr)")
    }
}

/// A real Prometheus scraping a real `netstatd serve` (Fixtures/prometheus_scrape.py):
/// lint, `up`, samples per scrape, the socket sum against the API, the rules loaded.
@Suite(
    .enabled(if: TestEnvironment.hasTool("prometheus") && TestEnvironment.hasTool("promtool"),
             "needs prometheus and promtool (scripts/install-deps installs Debian's prometheus)"),
    .enabled(if: hasPrometheusClient, "needs python3 with prometheus_client"),
    .enabled(if: TestEnvironment.netstatdBinary != nil, "needs the built netstatd binary"))
struct PrometheusScrapeTests {
    @Test func prometheusScrapesNetstatd() throws {
        let binary = try #require(TestEnvironment.netstatdBinary)
        let script = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("prometheus_scrape.py").path
        let rules = TestEnvironment.packageRoot.appendingPathComponent("deploy/prometheus/rules.yml").path
        var command = ["python3", script, binary, rules]
        // In a network namespace of its own the socket population is only netstatd and
        // prometheus, so one scrape and the next list the same series.
        if TestEnvironment.isRoot && TestEnvironment.hasTool("unshare") && TestEnvironment.hasTool("ip") {
            command = ["unshare", "--net", "--", "sh", "-c", "ip link set lo up && exec \"$@\"", "sh"] + command
        }
        let started = Date()
        let result = try run(command, timeout: 90)
        let output = result.text + result.stderr
        print("prometheus scrape test (\(String(format: "%.1f", Date().timeIntervalSince(started))) s):\n\(output)")
        #expect(result.status == 0, "\(output)")
    }
}

/// The Grafana dashboard (deploy/grafana/netstatd.json) against a real Prometheus scraping
/// a real `netstatd serve` (Fixtures/grafana_panels.py): every panel's query parses,
/// names only metrics netstatd exports, and returns data once the script has made the
/// activity its series need (closed connections, CLOSE_WAIT, a queued accept).
@Suite(
    .enabled(if: TestEnvironment.hasTool("prometheus") && TestEnvironment.hasTool("promtool"),
             "needs prometheus and promtool (scripts/install-deps installs Debian's prometheus)"),
    .enabled(if: hasPrometheusClient, "needs python3 with prometheus_client"),
    .enabled(if: TestEnvironment.netstatdBinary != nil, "needs the built netstatd binary"),
    .enabled(if: TestEnvironment.isRoot, "needs root: the close-event panels need CAP_NET_ADMIN"))
struct GrafanaDashboardTests {
    @Test("every panel's query parses and returns data from a real scrape")
    func panelsReturnData() throws {
        let binary = try #require(TestEnvironment.netstatdBinary)
        let script = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("grafana_panels.py").path
        let dashboard = TestEnvironment.packageRoot.appendingPathComponent("deploy/grafana/netstatd.json").path
        var command = ["python3", script, binary, dashboard]
        // In a network namespace of its own the sockets and counters are only the
        // script's, netstatd's and prometheus'.
        if TestEnvironment.hasTool("unshare") && TestEnvironment.hasTool("ip") {
            command = ["unshare", "--net", "--", "sh", "-c", "ip link set lo up && exec \"$@\"", "sh"] + command
        }
        let started = Date()
        let result = try run(command, timeout: 120)
        let output = result.text + result.stderr
        print("grafana panels test (\(String(format: "%.1f", Date().timeIntervalSince(started))) s):\n\(output)")
        #expect(result.status == 0, "\(output)")
    }
}
