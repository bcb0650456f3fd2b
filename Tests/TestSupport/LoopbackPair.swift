import Glibc

/// A listener and a connected pair on 127.0.0.1, closed by `close()`.
public final class LoopbackPair {
    public let listener: Int32
    public let client: Int32
    public let server: Int32
    public let port: UInt16

    public init() throws {
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
        if result < 0 { throw CommandError(message: "\(call) on a loopback test socket failed: errno \(errno)") }
    }

    public func inode(_ fd: Int32) -> UInt64 {
        var info = stat()
        fstat(fd, &info)
        return UInt64(info.st_ino)
    }

    public func close() {
        for fd in [client, server, listener] { Glibc.close(fd) }
    }
}

