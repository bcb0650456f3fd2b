import API
import Foundation
import Sampling
import Service
import Store
import TestSupport
import Testing

/// What the service adds for running as a daemon: capabilities said in /api/v1/status
/// and tokens replaced while serving.
@Suite(.enabled(if: TestEnvironment.hasTool("curl"), "needs curl to send real requests"))
struct ServiceStatusTests {
    let contract = ContractCheck()

    @Test("status lists every feature; a missing capability is named", arguments: [
        ("none", UInt64(0), [
            "other_users_owners": ["CAP_SYS_PTRACE", "CAP_DAC_READ_SEARCH"], "socket_close_events": ["CAP_NET_ADMIN"],
            "large_netlink_buffers": ["CAP_NET_ADMIN"], "other_network_namespaces": ["CAP_SYS_ADMIN"]] as [String: [String]]),
        ("ptrace only", UInt64(1) << 19, [
            "other_users_owners": ["CAP_DAC_READ_SEARCH"], "socket_close_events": ["CAP_NET_ADMIN"],
            "large_netlink_buffers": ["CAP_NET_ADMIN"], "other_network_namespaces": ["CAP_SYS_ADMIN"]] as [String: [String]]),
        ("all four", UInt64(1) << 2 | UInt64(1) << 12 | UInt64(1) << 19 | UInt64(1) << 21, [:] as [String: [String]]),
    ])
    func statusCapabilities(name: String, mask: UInt64, missing: [String: [String]]) throws {
        var configuration = APIConfiguration()
        configuration.capabilities = Capabilities(effective: mask)
        let server = try LiveServer(configuration: configuration)
        let status = try server.get("/api/v1/status")
        contract.record(status, path: "/api/v1/status")
        let features = try #require(status.json["capabilities"] as? [String: [String: Any]], "\(status.text)")
        #expect(Set(features.keys) == Set(Capabilities.Feature.all.map(\.key)))
        for (key, feature) in features {
            let available = feature["available"] as? Bool
            let needs = feature["needs"] as? [String]
            #expect(available == (missing[key] == nil), "\(name): \(key)")
            #expect(needs == missing[key], "\(name): \(key)")
        }
        let health = try server.get("/healthz")
        #expect(health.status == 200, "missing capabilities never fail /healthz")
        if canValidateContract {
            let (ok, report) = try contract.verify()
            #expect(ok, "responses differ from openapi.yaml:\n\(report)")
        }
    }

    @Test("status describes the close-event reader: totals, the namespaces followed, those not followed and why",
          .enabled(if: TestEnvironment.isRoot, "the close-event groups need CAP_NET_ADMIN"))
    func statusCloseEvents() throws {
        let directory = try Synthetic.temporaryDirectory("status-close")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("h.db").path
        do { _ = try Recorder(path: path, version: "test") }
        let reader = CloseEventReader()
        #expect(reader.start() == nil)
        defer { reader.stop() }
        // Neither a process nor a mount to enter it through: listed, not followed.
        reader.follow([NetNamespace(inode: 1, name: "ghost")])
        let recorderStatus = RecorderStatus()
        let history = HistoryAccess(readers: ReaderPool(path: path, status: recorderStatus), status: recorderStatus, path: path, closeEvents: reader)
        let server = try LiveServer(history: history)
        let status = try server.get("/api/v1/status")
        contract.record(status, path: "/api/v1/status")
        let events = try #require((status.json["history"] as? [String: Any])?["close_events"] as? [String: Any], "\(status.text)")
        #expect(events["running"] as? Bool == true)
        #expect(events["namespaces"] as? Int == 1, "netstatd's own")
        let own = try NamespaceTrio.inode("/proc/self/ns/net")
        #expect((events["by_namespace"] as? [[String: Any]])?.map { $0["inode"] as? UInt64 } == [own])
        let notFollowed = events["namespaces_not_followed"] as? [[String: Any]] ?? []
        #expect(notFollowed.count == 1 && notFollowed.first?["inode"] as? Int == 1 && notFollowed.first?["name"] as? String == "ghost", "\(notFollowed)")
        let metrics = try server.get("/metrics")
        #expect(metrics.text.contains("netstatd_close_events_namespaces 1\n") && metrics.text.contains("netstatd_close_events_namespaces_not_followed 1\n"))
        if canValidateContract {
            let (ok, report) = try contract.verify()
            #expect(ok, "responses differ from openapi.yaml:\n\(report)")
        }
    }

    @Test func statusWithoutProbeSaysNull() throws {
        let server = try LiveServer()
        let status = try server.get("/api/v1/status")
        #expect(status.json.keys.contains("capabilities") && status.json["capabilities"] is NSNull)
    }

    @Test("a replaced token is in force for the next request, the old one is refused")
    func tokenReplacedWhileServing() throws {
        var configuration = APIConfiguration()
        configuration.token = "first-token"
        let server = try LiveServer(configuration: configuration)
        #expect(try server.get("/api/v1/status", ["-H", "Authorization: Bearer first-token"]).status == 200)
        configuration.bearer.replace(with: "second-token")
        #expect(try server.get("/api/v1/status", ["-H", "Authorization: Bearer second-token"]).status == 200)
        #expect(try server.get("/api/v1/status", ["-H", "Authorization: Bearer first-token"]).status == 401)
        #expect(try server.get("/healthz").status == 200)
    }
}
