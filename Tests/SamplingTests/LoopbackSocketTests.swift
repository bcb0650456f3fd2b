import Glibc
import Testing
@testable import Sampling

/// Real sockets opened by the test in the host's namespace, found by the Collector
/// with the right state, ports, inode and owner.
struct LoopbackSocketTests {
    /// A listener and a connected pair on 127.0.0.1, closed by `close()`.
    final class Pair {
        let listener: Int32
        let client: Int32
        let server: Int32
        let port: UInt16

        init() throws {
            let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
            let size = socklen_t(MemoryLayout<sockaddr_in>.size)
            try Self.check(withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, size) } }, "bind")
            try Self.check(Glibc.listen(listener, 7), "listen")
            var bound = sockaddr_in()
            var length = size
            _ = withUnsafeMutablePointer(to: &bound) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) } }
            let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            try Self.check(withUnsafePointer(to: &bound) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, size) } }, "connect")
            let server = accept(listener, nil, nil)
            try Self.check(server, "accept")
            self.listener = listener
            self.client = client
            self.server = server
            port = UInt16(bigEndian: bound.sin_port)
        }

        static func check(_ result: Int32, _ call: String) throws {
            if result < 0 { throw SystemError(call: call, subject: "loopback test socket", errno: errno) }
        }

        func inode(_ fd: Int32) -> UInt64 {
            var info = stat()
            fstat(fd, &info)
            return UInt64(info.st_ino)
        }

        func close() {
            for fd in [client, server, listener] { Glibc.close(fd) }
        }
    }

    @Test(arguments: [CollectorOptions.Source.netlink, .procfs])
    func findsItsOwnSocketsWithOwner(source: CollectorOptions.Source) throws {
        let pair = try Pair()
        defer { pair.close() }
        var options = CollectorOptions()
        options.source = source
        options.protocols = [.tcp]
        options.families = [.ipv4]
        let snapshot = Collector(options: options).sample()
        #expect(snapshot.source == (source == .procfs ? .procfs : .netlink))

        let listener = try #require(snapshot.sockets.first { $0.inode == pair.inode(pair.listener) })
        #expect(listener.state == .listen)
        #expect(listener.local == Endpoint(address: IPAddress("127.0.0.1")!, port: pair.port))
        #expect(listener.uid == geteuid())
        #expect(listener.processes.map(\.pid) == [getpid()])
        #expect(listener.processes.first?.fd == pair.listener)
        if source == .netlink {
            #expect(listener.sendQ == 7, "a listener's Send-Q is its backlog")
            #expect(listener.cookie != nil)
        }

        let server = try #require(snapshot.sockets.first { $0.inode == pair.inode(pair.server) })
        #expect(server.state == .established)
        #expect(server.local.port == pair.port)
        let client = try #require(snapshot.sockets.first { $0.inode == pair.inode(pair.client) })
        #expect(client.remote.port == pair.port && client.local.port == server.remote.port)
        #expect(client.processes.first?.fd == pair.client)
        #expect(snapshot.userName(listener.uid).isEmpty == false)
    }

    @Test func tcpInfoIsFilledOnRequest() throws {
        let pair = try Pair()
        defer { pair.close() }
        let payload = [UInt8](repeating: 65, count: 3000)
        _ = payload.withUnsafeBytes { send(pair.client, $0.baseAddress, $0.count, 0) }
        var options = CollectorOptions()
        options.source = .netlink
        options.protocols = [.tcp]
        options.families = [.ipv4]
        options.tcpInfo = true
        options.owners = false
        let snapshot = Collector(options: options).sample()
        let client = try #require(snapshot.sockets.first { $0.inode == pair.inode(pair.client) })
        let info = try #require(client.tcpInfo)
        #expect(info.sendCwnd > 0)
        #expect(info.bytesAcked ?? 0 >= 3000 || info.bytesSent ?? 0 >= 3000)
        #expect(client.processes.isEmpty, "owners were not asked for")
    }

    @Test("a long-lived collector finds sockets made between samples")
    func cachedOwnerWalkSeesNewSockets() throws {
        var options = CollectorOptions()
        options.protocols = [.tcp]
        options.families = [.ipv4]
        options.fullOwnerWalkEvery = 100
        let collector = Collector(options: options)
        _ = collector.sample()
        let pair = try Pair()
        defer { pair.close() }
        let second = collector.sample()
        let server = try #require(second.sockets.first { $0.inode == pair.inode(pair.server) })
        #expect(server.processes.map(\.pid) == [getpid()])
        let third = collector.sample()
        #expect(third.sockets.first { $0.inode == pair.inode(pair.server) }?.processes.first?.fd == pair.server)
    }

    @Test func aMissingProcRootIsReportedNotFatal() {
        var options = CollectorOptions()
        options.procRoot = "/nonexistent-proc-root"
        let snapshot = Collector(options: options).sample()
        #expect(snapshot.sockets.isEmpty)
        #expect(snapshot.source == .procfs)
        #expect(snapshot.problems.socketTablesUnreadable.count == 4)
    }
}
