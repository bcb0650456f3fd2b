import Foundation
import Glibc
import TestSupport
import Testing
@testable import Sampling

/// One Collector reading every network namespace: three made here (two by
/// `ip netns add`, joined by a veth pair with a TCP connection across, one held only
/// by an `unshare -n` process), each compared with `ss -tuanp` run inside it; and the
/// sockets, fds and threads of a long-lived collector while namespaces come and go.
@Suite(
    "Every network namespace",
    .serialized,
    .enabled(if: TestEnvironment.canUseNamespaces, "needs root, ip, ss and python3 to build network namespaces"),
    .enabled(if: TestEnvironment.hasTool("nsenter") && TestEnvironment.hasTool("unshare"), "needs nsenter and unshare"))
struct AllNamespacesTests {
    @Test("each namespace's sockets are what ss -tuanp lists inside it, owners included")
    func everyNamespaceMatchesSS() throws {
        let trio = try NamespaceTrio(tag: "all")
        defer { trio.stop() }
        let binary = try #require(TestEnvironment.netstatdBinary)
        let result = try run([binary, "snapshot", "--all-namespaces", "--json"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let document = try #require(try JSONSerialization.jsonObject(with: result.stdout) as? [String: Any])

        let namespaces = document["namespaces"] as? [[String: Any]] ?? []
        func namespace(_ inode: UInt64) -> [String: Any]? { namespaces.first { ($0["inode"] as? UInt64) == inode } }
        #expect(namespace(trio.inodeA)?["name"] as? String == trio.a.name)
        #expect(namespace(trio.inodeB)?["mount"] as? String == "/run/netns/" + trio.b.name)
        #expect(namespace(trio.inodeC)?["name"] is NSNull, "an unshared namespace has no ip netns name")
        #expect(namespace(trio.inodeC)?["pid"] as? Int == Int(trio.zooPid))
        #expect(namespaces.filter { $0["host"] as? Bool == true }.count == 1, "exactly one host namespace")
        for inode in [trio.inodeA, trio.inodeB, trio.inodeC] {
            #expect(namespace(inode)?["read"] as? Bool == true, "namespace \(inode) read")
        }

        let cases: [(String, UInt64, String)] = [
            ("a", trio.inodeA, try trio.a.run(["ss", "-tuanp"]).text),
            ("b", trio.inodeB, try trio.b.run(["ss", "-tuanp"]).text),
            ("c", trio.inodeC, try trio.runInC(["ss", "-tuanp"]).text),
        ]
        for (label, inode, ssText) in cases {
            let ours = try SocketRow.parseSnapshot(Self.document(document, onlyNetns: inode))
            let theirs = SocketRow.parseSS(ssText)
            #expect(!ours.isEmpty, "namespace \(label) has sockets")
            let mine = Dictionary(ours.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
            let other = Dictionary(theirs.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
            #expect(Set(mine.keys) == Set(other.keys),
                    "namespace \(label): only ours \(Set(mine.keys).subtracting(other.keys)); only ss \(Set(other.keys).subtracting(mine.keys))")
            for (key, row) in mine {
                guard let theirs = other[key] else { continue }
                #expect(row.state == theirs.state && row.recvQ == theirs.recvQ, "namespace \(label) \(key): \(row) vs \(theirs)")
                #expect(row.pids == theirs.pids, "namespace \(label) \(key): owners \(row.pids) vs ss \(theirs.pids)")
            }
        }
    }

    @Test("the connection across the veth pair is seen once from each side, with its owner")
    func crossNamespaceConnection() throws {
        let trio = try NamespaceTrio(tag: "x")
        defer { trio.stop() }
        var options = CollectorOptions()
        options.namespaces = .all
        let snapshot = Collector(options: options).sample()
        let port = UInt16(trio.port)
        // Other tests' trios may use the same addresses in their own namespaces: a
        // side is the sockets of this trio's namespaces with the connection's ends.
        let clientSide = snapshot.sockets.filter {
            $0.state == .established && $0.remote.port == port && $0.remote.address == IPAddress(trio.addressB)!
                && ($0.netns == trio.inodeA || $0.netns == trio.inodeB)
        }
        let serverSide = snapshot.sockets.filter {
            $0.state == .established && $0.local.port == port && $0.local.address == IPAddress(trio.addressB)!
                && ($0.netns == trio.inodeA || $0.netns == trio.inodeB)
        }
        #expect(clientSide.count == 1 && clientSide.first?.netns == trio.inodeA, "\(clientSide)")
        #expect(serverSide.count == 1 && serverSide.first?.netns == trio.inodeB, "\(serverSide)")
        #expect(clientSide.first?.processes.map { Int($0.pid) } == [trio.client.made["pid"] as? Int ?? -1])
        #expect(serverSide.first?.processes.map { Int($0.pid) } == [trio.server.made["pid"] as? Int ?? -1],
                "the accepted socket's owner, found by the host-wide walk")
        #expect(clientSide.first.map { "\($0.local.address):\($0.local.port)" } == trio.clientEndpoint)

        let listeners = snapshot.sockets.filter { $0.state == .listen && $0.local.port == port }
        #expect(Set(listeners.compactMap(\.netns)).isSuperset(of: [trio.inodeA, trio.inodeB]),
                "the same port in two namespaces is two listeners")
        #expect(snapshot.sockets.allSatisfy { $0.netns != nil }, "every socket carries its namespace")
        let own = try #require(snapshot.namespaces.first { $0.isOwn })
        #expect(own.inode == (try NamespaceTrio.inode("/proc/self/ns/net")))
        #expect(snapshot.namespace(trio.inodeC)?.pid == trio.zooPid)
        let cookies = [trio.inodeA, trio.inodeB, trio.inodeC, own.inode].compactMap { snapshot.namespace($0)?.cookie }
        #expect(cookies.count == 4 && Set(cookies).count == 4, "each read namespace has its own cookie: \(cookies)")
    }

    @Test("a process walked once attributes sockets in every namespace (inodes are unique across them)")
    func ownersAcrossNamespaces() throws {
        let trio = try NamespaceTrio(tag: "own")
        defer { trio.stop() }
        var options = CollectorOptions()
        options.namespaces = .only([trio.a.name, String(trio.inodeC)])
        let snapshot = Collector(options: options).sample()
        #expect(Set(snapshot.namespaces.map(\.inode)) == [trio.inodeA, trio.inodeC])
        #expect(Set(snapshot.sockets.compactMap(\.netns)) == [trio.inodeA, trio.inodeC])
        let zooParent = Int32((trio.zoo.made["pids"] as? [String: Any])?["parent"] as? Int ?? -1)
        let zooOwned = snapshot.sockets.filter { $0.netns == trio.inodeC && $0.processes.contains { $0.pid == zooParent } }
        #expect(zooOwned.count >= 10, "the zoo's sockets in c have the zoo as owner")
        let inodes = snapshot.sockets.map(\.inode).filter { $0 != 0 }
        #expect(inodes.count == Set(inodes).count, "no socket inode appears twice")
    }

    @Test("without CAP_SYS_ADMIN only netstatd's own namespace is read, and the others are reported")
    func withoutSysAdmin() throws {
        try #require(TestEnvironment.hasTool("setpriv"), "needs setpriv (util-linux)")
        let namespace = try NetworkNamespace(tag: "eperm")
        let binary = try #require(TestEnvironment.netstatdBinary)
        let result = try run(["setpriv", "--inh-caps=-sys_admin", "--bounding-set=-sys_admin",
                              binary, "snapshot", "--all-namespaces", "--json"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let document = try #require(try JSONSerialization.jsonObject(with: result.stdout) as? [String: Any])
        let problems = document["problems"] as? [String: Any] ?? [:]
        let unread = problems["namespaces_not_read"] as? [[String: Any]] ?? []
        let mine = unread.first { $0["name"] as? String == namespace.name }
        #expect(mine != nil, "the namespace made here is reported as not read: \(unread)")
        #expect((mine?["reason"] as? String)?.contains("CAP_SYS_ADMIN") == true, "\(mine ?? [:])")
        let own = try NamespaceTrio.inode("/proc/self/ns/net")
        let sockets = document["sockets"] as? [[String: Any]] ?? []
        #expect(sockets.allSatisfy { ($0["netns"] as? UInt64) == own }, "only the own namespace's sockets")
        #expect(result.stderr.contains("not read"), "said on stderr: \(result.stderr)")
    }

    @Test("100 namespaces come and go: fds and threads return to where they were")
    func namespacesComeAndGo() throws {
        let sampler = try Self.sampler()
        defer { sampler.stop() }
        let before = try Self.sample(sampler)
        #expect(before["entry_threads"] as? Int == 0, "no entry thread outlives a sample: \(before)")

        let named = (0..<50).map { "nsd-cg\($0)-\(getpid())" }
        try Self.batch(named.map { "netns add \($0)" })
        defer { _ = try? Self.batch(named.map { "netns del \($0)" }, check: false) }
        let holders = try HeldProcess(["python3", TestEnvironment.namespacesScript, "holders", "50"])
        defer { holders.stop() }
        let children = (holders.made["children"] as? [Int]) ?? []
        var made = Set(try named.map { try NamespaceTrio.inode("/run/netns/" + $0) })
        made.formUnion(try children.map { try NamespaceTrio.inode("/proc/\($0)/ns/net") })
        #expect(made.count == 100)

        let during = try Self.sample(sampler)
        let readThen = Set((during["read_inodes"] as? [UInt64]) ?? [])
        #expect(made.isSubset(of: readThen), "all 100 read: \(made.subtracting(readThen).count) missing")
        #expect(Self.fdsBeyondSockets(during) == Self.fdsBeyondSockets(before), "one fd per namespace entered: \(before) \(during)")
        #expect(during["entry_threads"] as? Int == 0)
        #expect(Self.threads(during) <= Self.threadBound, "\(during)")

        holders.stop()
        try Self.batch(named.map { "netns del \($0)" })
        let after = try Self.sample(sampler)
        let readAfter = Set((after["read_inodes"] as? [UInt64]) ?? [])
        #expect(made.isDisjoint(with: readAfter), "gone namespaces are dropped")
        #expect(Self.fdsBeyondSockets(after) == Self.fdsBeyondSockets(before), "every socket of a gone namespace closed: \(before) \(after)")
        #expect((after["open_fds"] as? Int ?? 0) <= (before["open_fds"] as? Int ?? 0) + (after["entered"] as? Int ?? 0) - (before["entered"] as? Int ?? 0))
        #expect(after["entry_threads"] as? Int == 0)
        #expect(Self.threads(after) <= Self.threadBound, "\(after)")
    }

    @Test("500 namespaces appearing at once are all read in one sample, and leave nothing behind")
    func fiveHundredAtOnce() throws {
        let sampler = try Self.sampler()
        defer { sampler.stop() }
        let before = try Self.sample(sampler)
        let names = (0..<500).map { "nsd-k\($0)-\(getpid())" }
        try Self.batch(names.map { "netns add \($0)" })
        defer { _ = try? Self.batch(names.map { "netns del \($0)" }, check: false) }
        let made = Set(try names.map { try NamespaceTrio.inode("/run/netns/" + $0) })
        let during = try Self.sample(sampler, timeout: 120)
        let read = Set((during["read_inodes"] as? [UInt64]) ?? [])
        #expect(made.isSubset(of: read), "\(made.subtracting(read).count) of 500 not read")
        #expect(during["own_read"] as? Bool == true)
        #expect(Self.fdsBeyondSockets(during) == Self.fdsBeyondSockets(before))
        try Self.batch(names.map { "netns del \($0)" })
        let after = try Self.sample(sampler)
        #expect(made.isDisjoint(with: Set((after["read_inodes"] as? [UInt64]) ?? [])))
        #expect(Self.fdsBeyondSockets(after) == Self.fdsBeyondSockets(before))
        #expect(after["entry_threads"] as? Int == 0)
        #expect(Self.threads(after) <= Self.threadBound, "\(after)")
    }

    @Test("namespaces vanishing while being found and entered never stop a sample")
    func vanishingNamespaces() throws {
        let sampler = try Self.sampler()
        defer { sampler.stop() }
        let before = try Self.sample(sampler)
        let churn = try HeldProcess(["python3", TestEnvironment.namespacesScript, "churn", "400"])
        defer { churn.stop() }
        var samples = 0
        // Bounded: at most 200 samples while the churn runs.
        for _ in 0..<200 {
            let line = try Self.sample(sampler)
            #expect(line["own_read"] as? Bool == true)
            samples += 1
            if (line["vanished"] as? Int ?? 0) > 0 || samples >= 40 { break }
        }
        _ = try churn.nextLine(timeout: 120)  // {"done": 400}
        let after = try Self.sample(sampler)
        #expect(Self.fdsBeyondSockets(after) == Self.fdsBeyondSockets(before), "\(before) \(after)")
        #expect(after["entry_threads"] as? Int == 0)
        #expect(Self.threads(after) <= Self.threadBound, "\(after)")
    }

    // MARK: - helpers

    /// `netstatd-bench namespaces` without the owner walk (so no worker threads):
    /// one sample per line sent.
    private static func sampler() throws -> BenchSampler {
        let binary = try #require(TestEnvironment.benchBinary)
        return try BenchSampler(binary: binary)
    }

    private static func sample(_ sampler: BenchSampler, timeout: Double = 60) throws -> [String: Any] {
        sampler.process.send()
        let line = try sampler.process.nextLine(timeout: timeout)
        try #require(line["open_fds"] is Int && line["entered"] is Int && line["entry_threads"] is Int
                     && line["read_inodes"] is [UInt64] && line["other_fds"] is [String], "\(line)")
        return line
    }

    /// The sampler's threads at most: its main thread and the dump workers (one per
    /// CPU, at most 4), which Dispatch keeps for reuse.
    private static let threadBound = 1 + min(4, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) + 1

    private static func threads(_ line: [String: Any]) -> Int { line["threads"] as? Int ?? Int.max }

    /// Open fds less the sockets held in entered namespaces and less libdispatch's
    /// own (`anon_inode` epoll, eventfd and timerfds, which it opens lazily, the
    /// first time a clock or worker needs one): constant when nothing leaks. Also
    /// checked on the way: one netlink socket per entered namespace plus netstatd's
    /// own, and no namespace fd left open.
    private static func fdsBeyondSockets(_ line: [String: Any]) -> Int {
        #expect(line["netlink_fds"] as? Int == (line["entered"] as? Int ?? 0) + 1, "\(line)")
        #expect(line["namespace_fds"] as? Int == 0, "\(line)")
        let dispatch = (line["other_fds"] as? [String] ?? []).filter { $0.contains(":anon_inode:") }.count
        return (line["open_fds"] as? Int ?? -1000) - (line["entered"] as? Int ?? 0) - dispatch
    }

    /// Runs `ip -batch` over `lines`.
    private static func batch(_ lines: [String], check: Bool = true) throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("nsd-batch-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: file) }
        try (lines.joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)
        let result = try run(["ip", "-force", "-batch", file.path], timeout: 120)
        if check && result.status != 0 { throw CommandError(message: "ip -batch: \(result.stderr)") }
    }

    /// Reduces a snapshot document to the sockets of one namespace.
    static func document(_ document: [String: Any], onlyNetns inode: UInt64) throws -> Data {
        var copy = document
        copy["sockets"] = (document["sockets"] as? [[String: Any]] ?? []).filter { ($0["netns"] as? UInt64) == inode }
        return try JSONSerialization.data(withJSONObject: copy)
    }
}

/// A running `netstatd-bench namespaces --no-owners`.
final class BenchSampler {
    let process: HeldProcess

    init(binary: String) throws {
        process = try HeldProcess([binary, "namespaces", "--no-owners"], waitForLine: false)
    }

    func stop() { process.stop() }
}
