import Foundation
import Glibc
import TestSupport
import Testing

/// `netstatd serve` following the close events of namespaces made here: its socket
/// inside a namespace is there while the namespace exists and closed once it is
/// gone; without CAP_SYS_ADMIN the namespace is listed in /api/v1/status with why.
@Suite(
    .serialized,
    .enabled(if: TestEnvironment.canUseNamespaces, "needs root, ip, ss and python3 to build a network namespace"),
    .enabled(if: TestEnvironment.hasTool("setpriv"), "needs setpriv (util-linux)"),
    .enabled(if: TestEnvironment.netstatdBinary != nil, "needs the built netstatd binary"),
    .enabled(if: TestEnvironment.hasTool("curl"), "needs curl"))
struct CloseEventServeTests {
    @Test("a namespace's close-event socket is held while it exists and closed when it goes")
    func socketFollowsTheNamespace() throws {
        let binary = try #require(TestEnvironment.netstatdBinary)
        let directory = try Synthetic.temporaryDirectory("close-serve")
        defer { try? FileManager.default.removeItem(at: directory) }
        let server = try ServeProcess(
            ["--listen", "127.0.0.1:0", "--interval", "0.2", "--namespaces", "all", "--db", directory.appendingPathComponent("h.db").path],
            binary: binary, directory: directory)
        let base = "http://127.0.0.1:\(try server.port())"
        let pid = server.process.processIdentifier

        let namespace = try NetworkNamespace(tag: "cesv")
        let inode = try NamespaceTrio.inode("/run/netns/" + namespace.name)
        let followed = try Self.waitForStatus(base) { events in
            (events["by_namespace"] as? [[String: Any]] ?? []).contains { $0["inode"] as? UInt64 == inode }
        }
        #expect(followed != nil, "followed within 10 s")
        #expect((followed?["namespaces"] as? Int ?? 0) >= 2, "its own and the one made here at least")

        // The namespace's netlink sockets (its /proc/net/netlink) that serve holds:
        // one sock_diag socket to dump it, one bound to the close-event groups.
        let netlink = try Self.netlinkSockets(in: namespace)
        let held = Self.socketInodes(of: pid)
        let closeEvents = netlink.filter { $0.protocolNumber == 4 && $0.groups != 0 && held.contains($0.inode) }
        let dumps = netlink.filter { $0.protocolNumber == 4 && $0.groups == 0 && held.contains($0.inode) }
        #expect(closeEvents.count == 1 && dumps.count == 1, "\(netlink)")

        let deleted = try run(["ip", "netns", "del", namespace.name])
        #expect(deleted.status == 0, "\(deleted.stderr)")
        let dropped = try Self.waitForStatus(base) { events in
            !(events["by_namespace"] as? [[String: Any]] ?? []).contains { $0["inode"] as? UInt64 == inode }
        }
        #expect(dropped != nil, "no longer followed within 10 s")
        let gone = Set((closeEvents + dumps).map(\.inode))
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline && !Self.socketInodes(of: pid).isDisjoint(with: gone) { usleep(20_000) }
        #expect(Self.socketInodes(of: pid).isDisjoint(with: gone), "both sockets of the deleted namespace closed")
        #expect(server.stop() == 0)
    }

    @Test("without CAP_SYS_ADMIN a namespace's close events are not followed, and status says which and why")
    func withoutSysAdmin() throws {
        let binary = try #require(TestEnvironment.netstatdBinary)
        let directory = try Synthetic.temporaryDirectory("close-eperm")
        defer { try? FileManager.default.removeItem(at: directory) }
        let namespace = try NetworkNamespace(tag: "ceperm")
        let inode = try NamespaceTrio.inode("/run/netns/" + namespace.name)
        let server = try ServeProcess(
            ["--listen", "127.0.0.1:0", "--interval", "0.2", "--namespaces", "all", "--db", directory.appendingPathComponent("h.db").path],
            binary: binary, launcher: ["setpriv", "--inh-caps=-sys_admin", "--bounding-set=-sys_admin"], directory: directory)
        let base = "http://127.0.0.1:\(try server.port())"
        let events = try Self.waitForStatus(base) { events in
            (events["namespaces_not_followed"] as? [[String: Any]] ?? []).contains { $0["inode"] as? UInt64 == inode }
        }
        let listed = (events?["namespaces_not_followed"] as? [[String: Any]] ?? []).first { $0["inode"] as? UInt64 == inode }
        #expect(listed?["name"] as? String == namespace.name, "\(events ?? [:])")
        #expect((listed?["reason"] as? String)?.contains("CAP_SYS_ADMIN") == true, "\(listed ?? [:])")
        #expect(events?["running"] as? Bool == true, "its own namespace's are still read")
        #expect(events?["namespaces"] as? Int == 1, "only its own")
        #expect(server.stop() == 0)
    }

    // MARK: - helpers

    /// Polls /api/v1/status (at most 10 s) until `history.close_events` satisfies `done`; returns it, or nil.
    static func waitForStatus(_ base: String, _ done: ([String: Any]) -> Bool) throws -> [String: Any]? {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            let status = try CurlReply.get(base + "/api/v1/status")
            if let events = (status.json["history"] as? [String: Any])?["close_events"] as? [String: Any], done(events) { return events }
            usleep(100_000)
        }
        return nil
    }

    /// One line of /proc/net/netlink (net/netlink/af_netlink.c, netlink_seq_show).
    struct NetlinkSocket: CustomStringConvertible {
        var protocolNumber: Int
        var groups: UInt64
        var inode: UInt64
        var description: String { "proto \(protocolNumber) groups \(groups) inode \(inode)" }
    }

    /// The netlink sockets inside `namespace`: sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode.
    static func netlinkSockets(in namespace: NetworkNamespace) throws -> [NetlinkSocket] {
        let table = try namespace.run(["cat", "/proc/net/netlink"]).text
        return table.split(separator: "\n").dropFirst().compactMap { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 10, let proto = Int(fields[1]), let groups = UInt64(fields[3], radix: 16),
                  let inode = UInt64(fields[9]) else { return nil }
            return NetlinkSocket(protocolNumber: proto, groups: groups, inode: inode)
        }
    }

    /// The inodes of the sockets process `pid` holds open (`socket:[inode]` links).
    static func socketInodes(of pid: Int32) -> Set<UInt64> {
        let directory = "/proc/\(pid)/fd"
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        var inodes = Set<UInt64>()
        for name in names {
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: directory + "/" + name),
                  target.hasPrefix("socket:["), let inode = UInt64(target.dropFirst(8).dropLast()) else { continue }
            inodes.insert(inode)
        }
        return inodes
    }
}
