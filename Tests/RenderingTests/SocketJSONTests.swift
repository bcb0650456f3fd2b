import Foundation
import Glibc
import Rendering
import Sampling
import Testing

/// A socket's JSON says what is unknown as null, never as a false 0.
struct SocketJSONTests {
    /// A real listener with backlog 7 on loopback; its port.
    static func listener() throws -> (fd: Int32, port: UInt16) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        var size = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, size) } }
        #expect(bound == 0 && listen(fd, 7) == 0)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &size) } }
        return (fd, UInt16(bigEndian: address.sin_port))
    }

    static func json(_ socket: Socket) throws -> [String: Any] {
        var json = JSONWriter(capacity: 1024)
        SocketJSON.write(socket, user: "root", detail: SocketJSON.Detail(), to: &json)
        return try #require(try JSONSerialization.jsonObject(with: Data(json.bytes)) as? [String: Any])
    }

    @Test("a listener read from /proc has an unknown backlog (null); from netlink, its limit")
    func procListenerBacklog() throws {
        let (fd, port) = try Self.listener()
        defer { close(fd) }
        var problems = SamplingProblems()
        let fromProc = try #require(ProcNetSockets.read(procRoot: "/proc", tables: [(.tcp, .ipv4)], problems: &problems)
            .first { $0.state == .listen && $0.local.port == port })
        let proc = try Self.json(fromProc)
        #expect(proc["send_q"] is NSNull, "\(proc)")
        #expect((proc["accept_queue"] as? [String: Any])?["backlog"] is NSNull)
        #expect((proc["accept_queue"] as? [String: Any])?["depth"] as? Int == 0)
        let fromNetlink = try #require(Collector(options: CollectorOptions()).sample().sockets
            .first { $0.proto == .tcp && $0.state == .listen && $0.local.port == port })
        let netlink = try Self.json(fromNetlink)
        #expect((netlink["accept_queue"] as? [String: Any])?["backlog"] as? Int == 7)
        #expect(netlink["send_q"] as? Int == 7)
    }
}
