import Foundation
import Sampling
import TestSupport
import Testing

/// The socket zoo in a private namespace, read by `netstatd snapshot` and by `ss`,
/// must give the same sockets, states, queues and pids. Needs root (CI runs as root).
@Suite(
    "Sockets in a private namespace",
    .serialized,
    .enabled(if: TestEnvironment.canUseNamespaces, "needs root, ip, ss and python3 to build a network namespace"),
    .enabled(if: TestEnvironment.netstatdBinary != nil, "needs the built netstatd binary (swift build first)"))
struct NamespaceZooTests {
    @Test("netstatd (netlink) lists exactly what ss -tuanp lists")
    func netlinkMatchesSS() throws {
        let namespace = try NetworkNamespace(tag: "zoo")
        let zoo = try SocketZoo(in: namespace)
        defer { zoo.stop() }
        let ours = try snapshot(namespace, source: "netlink")
        let theirs = SocketRow.parseSS(try namespace.run(["ss", "-tuanp"]).text)
        try compare(ours: ours, theirs: theirs, compareSendQOfListeners: true)
        try checkKnownSockets(ours, zoo: zoo)
    }

    @Test("the /proc/net reader agrees with netlink on the same sockets")
    func procfsMatchesNetlink() throws {
        let namespace = try NetworkNamespace(tag: "zoopfs")
        let zoo = try SocketZoo(in: namespace)
        defer { zoo.stop() }
        let netlink = try snapshot(namespace, source: "netlink")
        let procfs = try snapshot(namespace, source: "procfs")
        // /proc/net/tcp has no backlog for listeners (its tx_queue is 0), the one
        // field where the two sources differ by design.
        try compare(ours: procfs, theirs: netlink, compareSendQOfListeners: false)
        try checkKnownSockets(procfs, zoo: zoo)
    }

    @Test("the table output has netstat's columns and every zoo socket")
    func tableOutput() throws {
        let namespace = try NetworkNamespace(tag: "zootab")
        let zoo = try SocketZoo(in: namespace)
        defer { zoo.stop() }
        let binary = try #require(TestEnvironment.netstatdBinary)
        let result = try namespace.run([binary, "snapshot", "-tuanp"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let lines = result.text.split(separator: "\n")
        #expect(lines.first == "Active Internet connections (servers and established)")
        #expect(lines.dropFirst().first?.hasPrefix("Proto Recv-Q Send-Q Local Address") == true)
        let lo4 = zoo.port("listen", "lo4")
        #expect(lines.contains { $0.contains("127.0.0.1:\(lo4)") && $0.contains("LISTEN") && $0.contains("/python3") })
        #expect(lines.contains { $0.hasPrefix("tcp6") && $0.contains("::1:\(zoo.port("listen", "lo6"))") })

        let listeners = try namespace.run([binary, "snapshot", "-tln"]).text
        #expect(listeners.contains("Active Internet connections (only servers)"))
        #expect(!listeners.contains("ESTABLISHED"))
    }

    // MARK: - helpers

    private func snapshot(_ namespace: NetworkNamespace, source: String) throws -> [SocketRow] {
        let binary = try #require(TestEnvironment.netstatdBinary)
        let result = try namespace.run([binary, "snapshot", "--json", "--source", source])
        #expect(result.status == 0, "netstatd snapshot failed: \(result.stderr)")
        return try SocketRow.parseSnapshot(result.stdout)
    }

    private func compare(ours: [SocketRow], theirs: [SocketRow], compareSendQOfListeners: Bool) throws {
        let mine = Dictionary(ours.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        let other = Dictionary(theirs.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        #expect(ours.count == theirs.count, "counts differ:\nours: \(ours)\ntheirs: \(theirs)")
        #expect(Set(mine.keys) == Set(other.keys),
                "only ours: \(Set(mine.keys).subtracting(other.keys)); only theirs: \(Set(other.keys).subtracting(mine.keys))")
        for (key, a) in mine {
            guard let b = other[key] else { continue }
            #expect(a.state == b.state, "\(key): state \(a) vs \(b)")
            #expect(a.recvQ == b.recvQ, "\(key): recv-q \(a) vs \(b)")
            let isListener = a.state == SocketState.listen.rawValue
            if compareSendQOfListeners || !isListener {
                #expect(a.sendQ == b.sendQ, "\(key): send-q \(a) vs \(b)")
            }
            #expect(a.pids == b.pids, "\(key): pids \(a) vs \(b)")
        }
    }

    /// Independently of ss: the zoo's own description of what it made.
    private func checkKnownSockets(_ rows: [SocketRow], zoo: SocketZoo) throws {
        let parent = (zoo.made["pids"] as? [String: Any])?["parent"] as? Int ?? -1
        let child = (zoo.made["pids"] as? [String: Any])?["child"] as? Int ?? -1
        func find(_ state: SocketState, local: String) -> SocketRow? {
            rows.first { $0.state == state.rawValue && $0.local == local }
        }
        let lo4 = zoo.port("listen", "lo4")
        #expect(find(.listen, local: "127.0.0.1:\(lo4)")?.pids == [parent])
        let any4 = try #require(find(.listen, local: "0.0.0.0:\(zoo.port("listen", "any4"))"))
        #expect(any4.pids == [parent, child].sorted(), "a listener held by parent and forked child")
        #expect(find(.listen, local: ":::\(zoo.port("listen", "any6"))") != nil)
        #expect(find(.listen, local: "::1:\(zoo.port("listen", "lo6"))") != nil)
        let server = rows.first { $0.state == SocketState.established.rawValue && $0.local == "127.0.0.1:\(lo4)" }
        #expect(server?.recvQ == 1234, "unread bytes in the accepted socket's Recv-Q")
        #expect(find(.established, local: "::1:\(zoo.port("estab6", "client"))") != nil)
        #expect(find(.finWait2, local: "127.0.0.1:\(zoo.port("fin_wait2", "client"))") != nil)
        #expect(rows.contains { $0.state == SocketState.closeWait.rawValue && $0.remote == "127.0.0.1:\(zoo.port("fin_wait2", "client"))" })
        let timeWait = find(.timeWait, local: "127.0.0.1:\(zoo.port("time_wait", "client"))")
        #expect(timeWait != nil && timeWait?.pids == [], "TIME_WAIT listed, with no owner")
        #expect(rows.contains { $0.state == SocketState.synSent.rawValue && $0.remote == "127.0.0.1:\(zoo.port("full", "port"))" })
        #expect(find(.close, local: "127.0.0.1:\(zoo.port("udp", "bound"))")?.proto == "udp")
        #expect(find(.established, local: "127.0.0.1:\(zoo.port("udp", "connected"))")?.proto == "udp")
    }
}
