import Glibc
import TestSupport
import Testing
@testable import Sampling

/// Real sockets opened by the test in the host's namespace, found by the Collector
/// with the right state, ports, inode and owner.
struct LoopbackSocketTests {
    @Test(arguments: [CollectorOptions.Source.netlink, .procfs])
    func findsItsOwnSocketsWithOwner(source: CollectorOptions.Source) throws {
        let pair = try LoopbackPair()
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
        // One process object for all three: a socket's owner is not a copy of it.
        let shared = try #require(listener.processes.singleProcess)
        #expect(server.processes.singleProcess === shared && client.processes.singleProcess === shared)
    }

    @Test func tcpInfoIsFilledOnRequest() throws {
        let pair = try LoopbackPair()
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
        let pair = try LoopbackPair()
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
