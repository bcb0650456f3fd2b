import Glibc
import Sampling
import TestSupport
import Testing

/// The kernel's close events, read as `ss -E` reads them.
@Suite(.enabled(if: TestEnvironment.isRoot, "joining the close-event groups needs CAP_NET_ADMIN"))
struct CloseEventTests {
    @Test("a closed loopback connection announces both ends with their final byte counts")
    func closedConnectionIsAnnounced() throws {
        let events = try CloseEventSocket()
        let pair = try LoopbackPair()
        let payload = [UInt8](repeating: 7, count: 1234)
        #expect(write(pair.client, payload, payload.count) == payload.count)
        var sink = [UInt8](repeating: 0, count: 4096)
        var got = 0
        while got < payload.count { got += max(0, read(pair.server, &sink, sink.count)) }
        let clientPort = Self.localPort(pair.client)
        pair.close()
        var seen: [CloseEvent] = []
        let deadline = Clock.monotonicSeconds() + 5
        while Clock.monotonicSeconds() < deadline {
            _ = try events.receive(timeoutMs: 100) { seen.append($0) }
            let ours = seen.filter { $0.socket.local.port == clientPort || $0.socket.remote.port == clientPort }
            if ours.count >= 2 { break }
        }
        let client = try #require(seen.first { $0.socket.local.port == clientPort && $0.socket.remote.port == pair.port })
        let server = try #require(seen.first { $0.socket.local.port == pair.port && $0.socket.remote.port == clientPort })
        #expect(client.socket.proto == .tcp && client.socket.cookie != nil && client.socket.cookie != server.socket.cookie)
        #expect(client.socket.tcpInfo?.bytesAcked.map { $0 >= 1234 } == true, "client sent 1234 bytes: \(String(describing: client.socket.tcpInfo?.bytesAcked))")
        #expect(server.socket.tcpInfo?.bytesReceived.map { $0 >= 1234 } == true)
        #expect(abs(server.at - Clock.wallSeconds()) < 5)
        print("close events:", seen.filter { $0.socket.local.port == clientPort || $0.socket.remote.port == clientPort }.map { "\($0.socket.local.port)>\($0.socket.remote.port) \($0.socket.stateName) cookie \($0.socket.cookie ?? 0) cgroup \($0.cgroupID.map(String.init) ?? "-")" })
    }

    static func localPort(_ fd: Int32) -> UInt16 {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return UInt16(bigEndian: address.sin_port)
    }
}
