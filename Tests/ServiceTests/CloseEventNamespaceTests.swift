import Foundation
import Glibc
import Sampling
import Service
import Store
import TestSupport
import Testing

/// The kernel's close events in network namespaces other than the test's own: two
/// namespaces made here, each with a listener on the same 127.0.0.1 port and short
/// connections made inside it; the real reader thread, the real Collector, a real
/// SQLite file written through the HistoryWriter.
@Suite(
    .serialized,
    .enabled(if: TestEnvironment.canUseNamespaces, "needs root, ip, ss and python3 to build network namespaces"))
struct CloseEventNamespaceTests {
    /// The port both namespaces listen on: above the ephemeral range
    /// (net.ipv4.ip_local_port_range ends at 60999), so no client socket of another
    /// test in this process's own namespace takes it.
    static let port: UInt16 = 62_404

    /// Two namespaces, a listener in each (namespaces.py burst), a collector reading
    /// only them, the close-event reader and a history file; cleaned up on deinit.
    final class Rig {
        let a: NetworkNamespace
        let b: NetworkNamespace
        let inodeA: UInt64
        let inodeB: UInt64
        var peerA: HeldProcess?
        var peerB: HeldProcess?
        let directory: URL
        let path: String
        let collector: Collector
        let reader = CloseEventReader()
        let closedByPort = ClosedByPort()
        let writer: HistoryWriter
        let status = RecorderStatus()
        private(set) var logged: [String] = []

        init(_ tag: String) throws {
            a = try NetworkNamespace(tag: tag + "a")
            b = try NetworkNamespace(tag: tag + "b")
            inodeA = try NamespaceTrio.inode("/run/netns/" + a.name)
            inodeB = try NamespaceTrio.inode("/run/netns/" + b.name)
            let listen = "127.0.0.1:\(CloseEventNamespaceTests.port)"
            peerA = try HeldProcess(["ip", "netns", "exec", a.name, "python3", TestEnvironment.namespacesScript, "burst", listen])
            peerB = try HeldProcess(["ip", "netns", "exec", b.name, "python3", TestEnvironment.namespacesScript, "burst", listen])
            directory = try Synthetic.temporaryDirectory(tag)
            path = directory.appendingPathComponent("h.db").path
            var options = CollectorOptions()
            options.tcpInfo = true
            options.namespaces = .only([a.name, b.name])
            collector = Collector(options: options)
            let recorder = try Recorder(path: path, version: "test")
            let box = LogBox()
            writer = HistoryWriter(recorder: recorder, status: status) { box.lines.append($0) }
            #expect(reader.start() == nil)
        }

        /// One sampler tick as `serve` runs it: sample, follow the sample's
        /// namespaces, record with the close events received since the last tick.
        @discardableResult
        func tick() -> Snapshot {
            let snapshot = collector.sample()
            reader.follow(snapshot.namespaces)
            let drained = reader.drain()
            closedByPort.observe(drained.events, in: snapshot)
            writer.record(snapshot, counters: [:], closeEvents: drained.events, closeOverflows: drained.overflows)
            return snapshot
        }

        /// Makes `count` short connections inside `peer`'s namespace; returns the
        /// client ports in order (connection i sent `bytes + i` bytes).
        func burst(_ peer: HeldProcess?, count: Int, bytes: Int) throws -> [UInt16] {
            let peer = try #require(peer)
            peer.send("\(count) \(bytes)")
            let line = try peer.nextLine(timeout: 60)
            return (line["client_ports"] as? [Int] ?? []).map { UInt16($0) }
        }

        /// Waits (at most 5 s) until the reader has received at least `events` from each namespace.
        func waitForEvents(_ wanted: [UInt64: Int]) {
            let deadline = Clock.monotonicSeconds() + 5
            while Clock.monotonicSeconds() < deadline {
                let figures = reader.statistics.byNamespace
                if wanted.allSatisfy({ inode, count in (figures.first { $0.inode == inode }?.received ?? 0) >= count }) { return }
                usleep(20_000)
            }
        }

        deinit {
            reader.stop()
            peerA?.stop()
            peerB?.stop()
            try? FileManager.default.removeItem(at: directory)
        }
    }

    /// Lines the writer logged (it logs only failures).
    final class LogBox: @unchecked Sendable {
        // @unchecked: appended to by the test's own thread alone.
        var lines: [String] = []
    }

    @Test("short connections on the same 127.0.0.1 port in two namespaces: each namespace's history holds its own, none crossed over")
    func twoNamespacesSamePort() throws {
        let rig = try Rig("cen")
        let first = rig.tick()
        #expect(first.namespace(rig.inodeA)?.wasRead == true && first.namespace(rig.inodeB)?.wasRead == true)
        #expect(rig.reader.followedNamespaces.isSuperset(of: [rig.inodeA, rig.inodeB]))
        #expect(rig.reader.statistics.namespaces == 3, "the own namespace and the two made here: \(rig.reader.statistics)")

        // Different counts and sizes in each, so a row that crossed over shows.
        let (countA, bytesA, countB, bytesB) = (40, 100, 25, 3000)
        let portsA = try rig.burst(rig.peerA, count: countA, bytes: bytesA)
        let portsB = try rig.burst(rig.peerB, count: countB, bytes: bytesB)
        #expect(portsA.count == countA && portsB.count == countB)
        // Two events per connection: the server socket and the client's, freed into TIME_WAIT.
        rig.waitForEvents([rig.inodeA: 2 * countA, rig.inodeB: 2 * countB])
        rig.tick()
        #expect(rig.status.current.failed == 0, "\(rig.status.current.lastError ?? "")")

        let statistics = rig.reader.statistics
        #expect(statistics.overflows == 0 && statistics.dropped == 0)
        let figuresA = statistics.byNamespace.first { $0.inode == rig.inodeA }
        let figuresB = statistics.byNamespace.first { $0.inode == rig.inodeB }
        #expect(figuresA?.received == 2 * countA, "\(statistics.byNamespace)")
        #expect(figuresB?.received == 2 * countB, "\(statistics.byNamespace)")
        #expect(figuresA?.name == rig.a.name && figuresB?.name == rig.b.name)
        // /metrics' count by listening port: each server socket in the namespace whose listener it is.
        #expect(rig.closedByPort.current[Self.port]?.closed == UInt64(countA + countB), "\(rig.closedByPort.current)")

        let history = try HistoryReader(path: rig.path)
        let all = try history.connections(from: 0, to: Clock.wallSeconds() + 1, after: 0, limit: 100_000)
        let loopback = IPAddress("127.0.0.1")!
        let serverSide = all.filter { $0.proto == .tcp && $0.local.port == Self.port && $0.local.address == loopback && $0.remote.port != 0 }
        let mine: [(UInt64, [UInt16], Int, HeldProcess?)] = [(rig.inodeA, portsA, bytesA, rig.peerA), (rig.inodeB, portsB, bytesB, rig.peerB)]
        for (inode, ports, bytes, peer) in mine {
            let rows = serverSide.filter { $0.netns == inode }
            #expect(rows.count == ports.count, "server-side rows in \(inode): \(rows.count) of \(ports.count)")
            #expect(Set(rows.map(\.remote.port)) == Set(ports), "the clients of this namespace, no other's")
            let pid = peer?.made["pid"] as? Int
            for row in rows {
                #expect(row.origin.contains(.closeEvent), "seen through its close event")
                #expect(row.lastSeen != nil && row.closedAt != nil, "closed")
                let index = try #require(ports.firstIndex(of: row.remote.port))
                // The kernel counts sequence space: the peer's FIN adds one.
                #expect(row.totals?.bytesReceived == UInt64(bytes + index + 1), "bytes of client port \(row.remote.port) in \(inode)")
                #expect(row.owners.map { Int($0.pid) } == [pid ?? -1] && row.owners.allSatisfy(\.inferred),
                        "owned by this namespace's listener: \(row.owners.map(\.pid)) vs \(pid ?? -1)")
            }
            let clients = all.filter { $0.netns == inode && $0.remote.port == Self.port && Set(ports).contains($0.local.port) }
            #expect(clients.count == ports.count, "one row per client socket in \(inode)")
            let listeners = all.filter { $0.netns == inode && $0.local.port == Self.port && $0.remote.port == 0 }
            #expect(listeners.count == 1, "the listener sampled in \(inode)")
        }
        let elsewhere = serverSide.filter { $0.netns != rig.inodeA && $0.netns != rig.inodeB }
        #expect(elsewhere.isEmpty, "no server-side row outside the two namespaces: \(elsewhere.map { "\($0.netns ?? 0) \($0.remote.port)" })")
        #expect(serverSide.count == countA + countB)
    }

    @Test("a namespace deleted mid-run: its close-event socket is closed and no fd of it is left")
    func deletedNamespaceClosesItsSocket() throws {
        let rig = try Rig("ced")
        let first = rig.tick()
        let cookieA = try #require(first.namespace(rig.inodeA)?.cookie, "SO_NETNS_COOKIE (Linux 5.14+)")
        let cookieB = try #require(first.namespace(rig.inodeB)?.cookie)
        // In each: the collector's sock_diag socket and the reader's close-event socket
        // (at least: tests running beside this one in the same process may sample every
        // namespace too, with sockets of their own in these).
        func holds(_ cookie: UInt64) -> Bool {
            let held = Self.sockets(inNamespace: cookie)
            return held.all >= 2 && held.closeEvents >= 1
        }
        #expect(holds(cookieA))
        #expect(holds(cookieB))
        #expect(Self.namespaceFiles([rig.inodeA, rig.inodeB]) == 0, "no namespace file stays open")

        // Still heard after a few samples (nothing reopened, nothing lost).
        rig.tick()
        rig.tick()
        #expect(holds(cookieB))
        let portsB = try rig.burst(rig.peerB, count: 5, bytes: 10)
        rig.waitForEvents([rig.inodeB: 10])

        // B goes: its process exits and its mount is removed.
        rig.peerB?.stop()
        rig.peerB = nil
        let deleted = try run(["ip", "netns", "del", rig.b.name])
        #expect(deleted.status == 0, "\(deleted.stderr)")
        let after = rig.tick()
        #expect(after.namespace(rig.inodeB) == nil)
        // The reader thread lets go of the socket once woken: at once, bounded here.
        let deadline = Clock.monotonicSeconds() + 10
        while Clock.monotonicSeconds() < deadline && Self.sockets(inNamespace: cookieB) != (0, 0) { usleep(10_000) }
        #expect(Self.sockets(inNamespace: cookieB) == (0, 0), "every socket in the deleted namespace closed")
        #expect(holds(cookieA), "the other namespace's stay")
        #expect(!rig.reader.followedNamespaces.contains(rig.inodeB))
        #expect(rig.reader.statistics.namespaces == 2)
        #expect(rig.reader.statistics.notFollowed.isEmpty, "a namespace gone is not a namespace refused")

        // The events B sent before it went are in history, with B's inode.
        let history = try HistoryReader(path: rig.path)
        let rows = try history.connections(from: 0, to: Clock.wallSeconds() + 1, after: 0, limit: 100_000)
            .filter { $0.netns == rig.inodeB && $0.local.port == Self.port && Set(portsB).contains($0.remote.port) }
        #expect(rows.count == 5 && rows.allSatisfy { $0.origin.contains(.closeEvent) })

        // A goes too, then the reader stops: nothing of either is left.
        rig.peerA?.stop()
        rig.peerA = nil
        _ = try run(["ip", "netns", "del", rig.a.name])
        rig.tick()
        rig.reader.stop()
        let end = Clock.monotonicSeconds() + 10
        while Clock.monotonicSeconds() < end && Self.sockets(inNamespace: cookieA) != (0, 0) { usleep(10_000) }
        #expect(Self.sockets(inNamespace: cookieA) == (0, 0))
        #expect(Self.namespaceFiles([rig.inodeA, rig.inodeB]) == 0)
        #expect(rig.reader.statistics.namespaces == 0)
    }

    @Test("a namespace that cannot be entered is listed with why, not dropped")
    func unenterableNamespaceIsListed() throws {
        let reader = CloseEventReader()
        #expect(reader.start() == nil)
        defer { reader.stop() }
        // Neither a process nor a mount to enter it through.
        let ghost = NetNamespace(inode: 1, name: "ghost")
        reader.follow([ghost])
        let listed = reader.statistics.notFollowed
        #expect(listed.map(\.inode) == [1] && listed.first?.name == "ghost", "\(listed)")
        #expect(listed.first?.reason.contains("no process or mount") == true)
        #expect(reader.statistics.namespaces == 1, "only netstatd's own")
        reader.follow([])
        #expect(reader.statistics.notFollowed.isEmpty, "forgotten once no sample finds it")
    }

    // MARK: - helpers

    /// SO_NETNS_COOKIE (include/uapi/asm-generic/socket.h, Linux 5.14).
    static let soNetnsCookie: Int32 = 71

    /// This process's sockets inside the namespace with `cookie`: all of them, and
    /// those subscribed to the close-event groups (NETLINK_SOCK_DIAG bound to groups).
    static func sockets(inNamespace cookie: UInt64) -> (all: Int, closeEvents: Int) {
        var all = 0, closeEvents = 0
        for (fd, target) in openFDs() where target.hasPrefix("socket:[") {
            var theirs: UInt64 = 0
            var size = socklen_t(MemoryLayout<UInt64>.size)
            guard getsockopt(fd, SOL_SOCKET, soNetnsCookie, &theirs, &size) == 0, theirs == cookie else { continue }
            all += 1
            var domain: Int32 = 0, proto: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            guard getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &length) == 0, domain == AF_NETLINK else { continue }
            length = socklen_t(MemoryLayout<Int32>.size)
            // NETLINK_SOCK_DIAG is 4 (include/uapi/linux/netlink.h).
            guard getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &length) == 0, proto == 4 else { continue }
            // struct sockaddr_nl: family and pad (2 + 2 bytes), nl_pid, then nl_groups at byte 8.
            var address = sockaddr_storage()
            var addressLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let named = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &addressLength) }
            }
            let groups = withUnsafeBytes(of: address) { $0.loadUnaligned(fromByteOffset: 8, as: UInt32.self) }
            if named == 0 && addressLength >= 12 && groups != 0 { closeEvents += 1 }
        }
        return (all, closeEvents)
    }

    /// Open fds of this process that are the namespace files of `inodes` (`net:[inode]`).
    static func namespaceFiles(_ inodes: Set<UInt64>) -> Int {
        openFDs().filter { _, target in inodes.contains { target == "net:[\($0)]" } }.count
    }

    /// Every open fd of this process with what it points to.
    static func openFDs() -> [(Int32, String)] {
        guard let dir = opendir("/proc/self/fd") else { return [] }
        let own = dirfd(dir)
        defer { closedir(dir) }
        var found: [(Int32, String)] = []
        var link = [CChar](repeating: 0, count: 256)
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.baseAddress!.assumingMemoryBound(to: CChar.self)) }
            guard let fd = Int32(name), fd != own else { continue }
            let length = readlink("/proc/self/fd/\(name)", &link, link.count - 1)
            guard length > 0 else { continue }
            found.append((fd, String(decoding: link[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)))
        }
        return found
    }
}
