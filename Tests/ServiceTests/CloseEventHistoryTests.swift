import Foundation
import Glibc
import Sampling
import Service
import Store
import TestSupport
import Testing

/// Connections shorter than a sample reach history through the kernel's close events:
/// real loopback connections, the real reader thread, a real SQLite file.
@Suite(.enabled(if: TestEnvironment.isRoot, "the close-event groups need CAP_NET_ADMIN"))
struct CloseEventHistoryTests {
    /// A TCP listener on 127.0.0.1 held by this process.
    static func listener() throws -> (fd: Int32, port: UInt16) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        let size = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, size) } }
        _ = Glibc.listen(fd, 512)
        var length = size
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return (fd, UInt16(bigEndian: address.sin_port))
    }

    /// Connects to `port`, sends `bytes`, lets the server read them all; returns both
    /// ends and the client's port.
    static func connection(to port: UInt16, listener: Int32, sending bytes: Int) throws -> (client: Int32, server: Int32, clientPort: UInt16) {
        let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        address.sin_port = port.bigEndian
        let size = socklen_t(MemoryLayout<sockaddr_in>.size)
        let connected = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, size) } }
        guard connected == 0 else { throw CommandError(message: "connect: errno \(errno)") }
        let server = accept(listener, nil, nil)
        let payload = [UInt8](repeating: 1, count: bytes)
        var sent = 0
        while sent < bytes { sent += max(0, payload.withUnsafeBytes { write(client, $0.baseAddress! + sent, bytes - sent) }) }
        var sink = [UInt8](repeating: 0, count: 65536)
        var got = 0
        while got < bytes {
            let n = read(server, &sink, sink.count)
            if n <= 0 { break }
            got += n
        }
        var local = sockaddr_in()
        var length = size
        _ = withUnsafeMutablePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(client, $0, &length) } }
        return (client, server, UInt16(bigEndian: local.sin_port))
    }

    /// The client closes, and the server closes once it has read the client's FIN:
    /// back to back, the two FINs can cross (a simultaneous close) and put the server's
    /// socket in TIME_WAIT too, which a loaded machine does now and then.
    static func closeClientFirst(_ pair: (client: Int32, server: Int32, clientPort: UInt16)) {
        close(pair.client)
        var sink = [UInt8](repeating: 0, count: 4096)
        for _ in 0..<1000 where read(pair.server, &sink, sink.count) > 0 {}
        close(pair.server)
    }

    static func collector() -> Collector {
        var options = CollectorOptions()
        options.tcpInfo = true
        return Collector(options: options)
    }

    /// A history file, the close-event reader, a listener held by this process, a
    /// collector and a recorder: what each test records through; cleaned up on deinit.
    final class Rig {
        let directory: URL
        let path: String
        let reader = CloseEventReader()
        let listenFD: Int32
        let port: UInt16
        let collector = CloseEventHistoryTests.collector()
        let recorder: Recorder

        init(_ tag: String) throws {
            directory = try Synthetic.temporaryDirectory(tag)
            path = directory.appendingPathComponent("h.db").path
            (listenFD, port) = try CloseEventHistoryTests.listener()
            recorder = try Recorder(path: path, version: "test")
            #expect(reader.start() == nil)
        }

        /// Takes a sample and records it with the close events received since the last.
        func record() throws {
            let drained = reader.drain()
            try recorder.record(collector.sample(), closeEvents: drained.events, closeOverflows: drained.overflows)
        }

        deinit {
            reader.stop()
            close(listenFD)
            try? FileManager.default.removeItem(at: directory)
        }
    }

    @Test("300 connections living between two samples: every server socket in history with its bytes, close time and inferred owner")
    func shortConnectionsReachHistory() throws {
        let rig = try Rig("close-events")
        let (path, listenFD, port, reader, recorder, collector) = (rig.path, rig.listenFD, rig.port, rig.reader, rig.recorder, rig.collector)
        try rig.record()
        // A long connection, sampled while open, that closes later.
        let long = try Self.connection(to: port, listener: listenFD, sending: 10)
        try recorder.record(collector.sample(), closeEvents: reader.drain().events)
        var closedAt: [UInt16: Double] = [:]
        var sentBy: [UInt16: Int] = [:]
        for index in 0..<300 {
            let bytes = 100 + index * 7
            let pair = try Self.connection(to: port, listener: listenFD, sending: bytes)
            // The client closes first: it goes on in TIME_WAIT under the same cookie.
            Self.closeClientFirst(pair)
            closedAt[pair.clientPort] = Clock.wallSeconds()
            sentBy[pair.clientPort] = bytes
        }
        close(long.client)
        close(long.server)
        let longClosed = Clock.wallSeconds()
        usleep(300_000)
        let drained = reader.drain()
        try recorder.record(collector.sample(), closeEvents: drained.events, closeOverflows: drained.overflows)
        #expect(drained.overflows == 0)

        let history = try HistoryReader(path: path)
        let all = try history.connections(from: 0, to: Clock.wallSeconds() + 1, after: 0, limit: 100_000)
        let serverSide = all.filter { $0.local.port == port && sentBy[$0.remote.port] != nil }
        #expect(serverSide.count == 300, "server-side sockets in history: \(serverSide.count) of 300")
        for connection in serverSide {
            let clientPort = connection.remote.port
            #expect(connection.origin.contains(.closeEvent), "seen only through its close event")
            // The kernel counts sequence space: the peer's FIN adds one (net/ipv4/tcp_input.c).
            #expect(connection.totals?.bytesReceived == UInt64(sentBy[clientPort]! + 1), "bytes of \(clientPort)")
            let end = try #require(connection.lastSeen)
            #expect(abs(end - closedAt[clientPort]!) < 0.1, "closed within 100 ms of the real close")
            #expect(connection.owners.map(\.pid) == [getpid()] && connection.owners.allSatisfy(\.inferred), "the listener's owner, inferred")
            #expect(connection.durationMs == nil && !connection.firstSeenKnown)
        }
        let clientSide = all.filter { sentBy[$0.local.port] != nil && $0.remote.port == port }
        #expect(clientSide.count == 300, "one row per client socket")
        #expect(Set(clientSide.map(\.local.port)).count == 300, "no client socket twice, though its TIME_WAIT was sampled after its close event")
        // bytes_acked counts sequence space as ss shows it: the SYN and the FIN add one each.
        #expect(clientSide.allSatisfy { $0.totals?.bytesSent == UInt64(sentBy[$0.local.port]! + 2) }, "the client's final bytes_acked")
        let longServer = try #require(all.first { $0.local.port == port && $0.remote.port == long.clientPort })
        #expect(!longServer.origin.contains(.closeEvent) && longServer.firstSeenKnown)
        #expect(abs((longServer.closedAt ?? 0) - longClosed) < 0.1, "a sampled connection's close time comes from its event")
        #expect(longServer.durationMs != nil)
        // In the event feed: the short server sockets open and close with their totals.
        let feed = try history.events(after: .start, limit: 100_000).filter { $0.connection.local.port == port && sentBy[$0.connection.remote.port] != nil }
        #expect(feed.filter { $0.kind == .closed }.count == 300)
        #expect(feed.filter { $0.kind == .opened }.allSatisfy { $0.owners.first?.inferred == true })
    }

    @Test("a receive buffer too small for a burst: the kernel's drops are counted, not hidden")
    func overflowsAreCounted() throws {
        let events = try CloseEventSocket(receiveBuffer: 1024)
        let (listenFD, port) = try Self.listener()
        defer { close(listenFD) }
        for _ in 0..<400 {
            let pair = try Self.connection(to: port, listener: listenFD, sending: 1)
            Self.closeClientFirst(pair)
        }
        var received = 0
        let outcome = try events.receive(timeoutMs: 100) { _ in received += 1 }
        #expect(outcome.overflows >= 1, "received \(received) of 800 events and no overflow reported")
        #expect(received < 800)
    }
}

extension CloseEventHistoryTests {
    @Test("flows over the same kind of burst count every short connection by port")
    func flowsCountTheBurst() throws {
        let rig = try Rig("close-flows")
        let (path, listenFD, port) = (rig.path, rig.listenFD, rig.port)
        try rig.record()
        for index in 0..<300 {
            let pair = try Self.connection(to: port, listener: listenFD, sending: 10 + index)
            Self.closeClientFirst(pair)
        }
        usleep(300_000)
        try rig.record()
        let now = Clock.wallSeconds()
        let answer = try FlowSummary.read(ReaderPool(path: path), from: now - 600, to: now + 1, keys: [.localPort]) { _ in true }
        let groups = answer.groups
        let server = try #require(groups.first { $0.values == [String(port)] })
        #expect(server.count == 300 && server.closeEventOnly == 300)
        #expect(server.bytesReceived == UInt64((0..<300).map { 10 + $0 + 1 }.reduce(0, +)), "every byte, each FIN counted once")
        // The clients' own ports are ephemeral: all 300 in one group, each once (a
        // client sampled in TIME_WAIT is one connection with its close event).
        let byPorts = try FlowSummary.read(ReaderPool(path: path), from: now - 600, to: now + 1, keys: [.localPort, .remotePort]) { _ in true }
        let clients = try #require(byPorts.groups.first { $0.values == [FlowSummary.ephemeral, String(port)] },
                                   "groups: \(byPorts.groups.map(\.values))")
        #expect(clients.count == 300)
        #expect(answer.from.truncatingRemainder(dividingBy: 60) == 0 && answer.to.truncatingRemainder(dividingBy: 60) == 0, "whole minutes")
        // The same counts come from the rollup rows alone once the minute is written:
        // one row per key and minute, not one per connection.
        let database = try Database(path: path, mode: .readOnly)
        // (Other tests' connections share the namespace: only this listener's rows count.)
        let rows = try #require(try database.scalar("SELECT count(*) FROM flow_minutes WHERE local_port = ?", [.integer(Int64(port))]))
        #expect(rows <= 2, "300 short connections from one client are one rollup row (two across a minute), got \(rows)")
    }
}

extension CloseEventHistoryTests {
    @Test("closed connections and their bytes are counted by listening port, never by ephemeral port")
    func closedByListeningPort() throws {
        let rig = try Rig("closed-by-port")
        var clientPorts = Set<UInt16>()
        for index in 0..<20 {
            let pair = try Self.connection(to: rig.port, listener: rig.listenFD, sending: 100 + index)
            clientPorts.insert(pair.clientPort)
            Self.closeClientFirst(pair)
        }
        usleep(300_000)
        let counters = ClosedByPort()
        counters.observe(rig.reader.drain().events, in: rig.collector.sample())
        let totals = counters.current
        #expect(totals[rig.port]?.closed == 20, "\(totals)")
        #expect(totals[rig.port]?.bytesReceived == UInt64((0..<20).map { 100 + $0 + 1 }.reduce(0, +)))
        #expect(clientPorts.isDisjoint(with: totals.keys), "no client's ephemeral port as a label: \(totals.keys)")
    }
}
