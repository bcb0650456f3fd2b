import API
import Foundation
import Glibc
import HTTP
import Sampling
import TestSupport
import Testing

/// The live API over every network namespace: `GET /api/v1/namespaces`, `netns=` and
/// `container=`, and `ports/{port}` answering across namespaces. Real server, real
/// namespaces (root); every response checked against openapi.yaml.
@Suite(
    .serialized,
    .enabled(if: TestEnvironment.canUseNamespaces, "needs root, ip, ss and python3 to build network namespaces"),
    .enabled(if: TestEnvironment.hasTool("curl") && TestEnvironment.hasTool("nsenter"), "needs curl and nsenter"))
struct NamespaceAPITests {
    let contract = ContractCheck()

    private func verifyContract() throws {
        guard canValidateContract else { return }
        let (ok, report) = try contract.verify()
        #expect(ok, "responses differ from openapi.yaml:\n\(report)")
    }

    @Test("namespaces are listed with identity, read state and socket counts")
    func namespacesList() throws {
        let trio = try NamespaceTrio(tag: "api")
        defer { trio.stop() }
        let server = try LiveServer(namespaces: .all)
        let reply = try server.get("/api/v1/namespaces")
        contract.record(reply, path: "/api/v1/namespaces")
        #expect(reply.status == 200)
        func item(_ inode: UInt64) -> [String: Any]? { reply.items.first { ($0["inode"] as? UInt64) == inode } }
        let a = try #require(item(trio.inodeA))
        #expect(a["name"] as? String == trio.a.name && a["read"] as? Bool == true && a["host"] as? Bool == false)
        #expect(a["listeners"] as? Int == 1, "the listener on port \(trio.port)")
        #expect((a["by_state"] as? [String: Int])?["ESTABLISHED"] == 1)
        let c = try #require(item(trio.inodeC))
        #expect(c["pid"] as? Int == Int(trio.zooPid) && c["name"] is NSNull)
        let zooSS = SocketRow.parseSS(try trio.runInC(["ss", "-tuan"]).text)
        #expect(c["sockets"] as? Int == zooSS.count, "c's count is what ss counts there")
        #expect(reply.items.filter { $0["host"] as? Bool == true }.count == 1)
        #expect(reply.items.first?["host"] as? Bool == true, "the host's first")

        let table = try server.get("/api/v1/namespaces?format=table")
        contract.record(table, path: "/api/v1/namespaces")
        #expect(table.text.contains(trio.a.name))
        let csv = try server.get("/api/v1/namespaces?format=csv")
        contract.record(csv, path: "/api/v1/namespaces")
        #expect(csv.text.hasPrefix("inode,name,host,read"))
        try verifyContract()
    }

    @Test("netns= keeps one namespace's sockets, by name, inode or a list; an unknown one is a 404 naming it")
    func netnsFilter() throws {
        let trio = try NamespaceTrio(tag: "apf")
        defer { trio.stop() }
        let server = try LiveServer(namespaces: .all)
        let inA = try server.get("/api/v1/connections?netns=\(trio.a.name)")
        contract.record(inA, path: "/api/v1/connections")
        #expect(inA.items.count == 2, "a's listener and its connection to b: \(inA.text)")
        #expect(inA.items.allSatisfy { ($0["netns"] as? UInt64) == trio.inodeA })
        let both = try server.get("/api/v1/connections?netns=\(trio.a.name),\(trio.inodeB)&state=established")
        #expect(Set(both.items.compactMap { $0["netns"] as? UInt64 }) == [trio.inodeA, trio.inodeB])
        #expect(both.items.count == 2, "the connection across, once from each side")
        let byInode = try server.get("/api/v1/listeners?netns=\(trio.inodeC)")
        contract.record(byInode, path: "/api/v1/listeners")
        let zooListeners = SocketRow.parseSS(try trio.runInC(["ss", "-tuln"]).text)
        #expect(byInode.items.count == zooListeners.count)
        let states = try server.get("/api/v1/stats/states?netns=\(trio.b.name)")
        contract.record(states, path: "/api/v1/stats/states")
        #expect(states.json["by_state"] as? [String: Int] == ["LISTEN": 1, "ESTABLISHED": 1])

        let unknown = try server.get("/api/v1/connections?netns=nsd-no-such-namespace")
        contract.record(unknown, path: "/api/v1/connections")
        #expect(unknown.status == 404)
        #expect(unknown.json["parameter"] as? String == "netns")
        #expect((unknown.json["detail"] as? String)?.contains("nsd-no-such-namespace") == true)
        #expect(try server.get("/api/v1/stats/states?netns=12345").status == 404)
        #expect(try server.get("/api/v1/connections?netns=").status == 400)
        try verifyContract()
    }

    @Test("the same port in two namespaces is two listeners on ports/{port}")
    func portAcrossNamespaces() throws {
        let trio = try NamespaceTrio(tag: "app")
        defer { trio.stop() }
        let server = try LiveServer(namespaces: .all)
        let reply = try server.get("/api/v1/ports/\(trio.port)")
        contract.record(reply, path: "/api/v1/ports/{port}")
        let listeners = reply.json["listeners"] as? [[String: Any]] ?? []
        let namespaces = listeners.compactMap { $0["netns"] as? UInt64 }
        #expect(namespaces.filter { $0 == trio.inodeA }.count == 1 && namespaces.filter { $0 == trio.inodeB }.count == 1,
                "\(reply.text)")
        let narrowed = try server.get("/api/v1/ports/\(trio.port)?netns=\(trio.a.name),\(trio.b.name)")
        contract.record(narrowed, path: "/api/v1/ports/{port}")
        #expect(narrowed.json["listener_count"] as? Int == 2)
        #expect(narrowed.json["connection_count"] as? Int == 2, "both ends of the connection across")
        let owners = (narrowed.json["listeners"] as? [[String: Any]] ?? []).flatMap { $0["processes"] as? [[String: Any]] ?? [] }
        let peers = [trio.client.made["pid"] as? Int, trio.server.made["pid"] as? Int].compactMap { $0 }
        #expect(Set(owners.compactMap { $0["pid"] as? Int }) == Set(peers), "each listener's own process")
        try verifyContract()
    }
}

/// `container=` and `netns=` on hand-made snapshots: no root needed.
struct NamespaceFilterTests {
    static let id = "4c8d7e2f1a9b3c6d5e0f7a8b9c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d"

    private func snapshot() -> Snapshot {
        let docker = ContainerReference(runtime: .docker, id: Self.id, unit: "docker-\(Self.id).scope")
        var owned = Synthetic.socket(cookie: 1, state: .listen, local: 80, owners: [
            SocketOwner(pid: 10, startTime: 1, name: "nginx", fd: 3, container: docker),
        ])
        owned.netns = 2
        var timeWait = Synthetic.socket(cookie: 2, state: .timeWait, local: 80, remote: 5555)
        timeWait.netns = 2
        var host = Synthetic.socket(cookie: 3, state: .listen, local: 22)
        host.netns = 1
        return Snapshot(
            takenAt: 1, duration: 0, source: .netlink, sockets: [owned, timeWait, host], problems: SamplingProblems(),
            userNames: [0: "root"],
            namespaces: [NetNamespace(inode: 1, isHost: true, isOwn: true), NetNamespace(inode: 2, pid: 10, container: docker)])
    }

    private func filter(_ query: [(String, String)]) throws -> ConnectionFilter {
        try ConnectionFilter(query: QueryParameters(query.map { (name: $0.0, value: $0.1) }))
    }

    @Test func containerByIdPrefixIncludesOwnerlessSocketsOfItsNamespace() throws {
        let matched = try filter([("container", String(Self.id.prefix(12)))]).matchingIndices(in: snapshot())
        #expect(matched == [0, 1], "the owned listener and the TIME_WAIT in the container's namespace")
        #expect(try filter([("container", "ffff")]).matchingIndices(in: snapshot()).isEmpty)
    }

    @Test func netnsByHostAliasAndInode() throws {
        #expect(try filter([("netns", "host")]).matchingIndices(in: snapshot()) == [2])
        #expect(try filter([("netns", "2")]).matchingIndices(in: snapshot()) == [0, 1])
        #expect(throws: Problem.self) { try filter([("netns", "nope")]).namespaceInodes(in: snapshot()) }
    }
}

extension NamespaceAPITests {
    @Test("stats/protocols?netns= serves that namespace's counters; one with no process to read them through is a 409")
    func countersPerNamespace() throws {
        let trio = try NamespaceTrio(tag: "apc")
        defer { trio.stop() }
        let empty = try NetworkNamespace(tag: "apce")
        let server = try LiveServer(namespaces: .all)
        func inSegs() throws -> UInt64 {
            let text = try String(contentsOfFile: "/proc/\(trio.zooPid)/net/snmp", encoding: .utf8)
            return try #require(ProcNetSNMP.parse(text).first { $0.key == "Tcp.InSegs" }?.value)
        }
        let before = try inSegs()
        let reply = try server.get("/api/v1/stats/protocols?netns=\(trio.inodeC)&counter=Tcp.InSegs")
        let after = try inSegs()
        contract.record(reply, path: "/api/v1/stats/protocols")
        #expect(reply.status == 200, "\(reply.text)")
        let groups = reply.json["groups"] as? [String: [String: [String: Any]]]
        let served = try #require((groups?["Tcp"]?["InSegs"]?["value"] as? NSNumber)?.uint64Value, "\(reply.text)")
        #expect(before <= served && served <= after, "namespace C: \(before) <= \(served) <= \(after) (the host's would be far larger)")
        // ss -s and netstat -i of that namespace: its sockets, its sockstat, its
        // interfaces (their /sys links are netstatd's namespace's, so unknown: null).
        let sockets = try server.get("/api/v1/stats/sockets?netns=\(trio.inodeC)")
        contract.record(sockets, path: "/api/v1/stats/sockets")
        let inC = SocketRow.parseSS(try trio.runInC(["ss", "-tuan"]).text).count
        #expect(sockets.json["total"] as? Int == inC, "namespace C: \(sockets.json["total"] ?? "-") sockets served, ss counts \(inC)")
        #expect((sockets.json["sockstat"] as? [String: Any])?["TCP"] != nil)
        let interfaces = try server.get("/api/v1/interfaces?netns=\(trio.inodeC)")
        contract.record(interfaces, path: "/api/v1/interfaces")
        let names = interfaces.items.compactMap { $0["name"] as? String }
        #expect(names == ["lo"], "namespace C has only its loopback: \(names)")
        #expect(interfaces.items.first?["mtu"] is NSNull)
        let refused = try server.get("/api/v1/stats/protocols?netns=\(empty.name)")
        contract.record(refused, path: "/api/v1/stats/protocols")
        #expect(refused.status == 409 && refused.text.contains("netns"), "\(refused.text)")
        let unknown = try server.get("/api/v1/stats/protocols?netns=no-such-namespace")
        #expect(unknown.status == 404)
        try verifyContract()
    }
}

extension NamespaceAPITests {
    @Test("--metrics-namespaces: a series per namespace (the same port in two is two listeners); without, sums that say so")
    func metricsPerNamespace() throws {
        let trio = try NamespaceTrio(tag: "apm")
        defer { trio.stop() }
        var configuration = APIConfiguration()
        configuration.metricsNamespaces = true
        let labelled = try LiveServer(configuration: configuration, namespaces: .all)
        let text = try labelled.get("/metrics").text
        let listenerLines = text.split(separator: "\n").filter {
            $0.hasPrefix("netstatd_listeners{") && $0.contains("port=\"\(trio.port)\"")
        }
        #expect(listenerLines.contains { $0.contains("netns=\"\(trio.a.name)\"") }, "\(listenerLines)")
        #expect(listenerLines.contains { $0.contains("netns=\"\(trio.b.name)\"") }, "\(listenerLines)")
        let sockets = text.split(separator: "\n").filter { $0.hasPrefix("netstatd_sockets{") }
        #expect(sockets.allSatisfy { $0.contains("netns=") }, "\(sockets.prefix(3))")
        #expect(sockets.contains { $0.contains("netns=\"\(trio.a.name)\"") && $0.contains("state=\"LISTEN\"") })
        // Without the flag: one series per address and port, every namespace summed.
        let summed = try LiveServer(namespaces: .all).get("/metrics").text
        let summedListeners = summed.split(separator: "\n").filter {
            $0.hasPrefix("netstatd_listeners{") && $0.contains("port=\"\(trio.port)\"") && !$0.contains("netns=")
        }
        #expect(!summedListeners.isEmpty && !summed.contains("netns="), "\(summedListeners)")
    }
}
