internal import CHttp
import Glibc

/// An IPv4 or IPv6 socket address in a sockaddr_storage, as bind(2), accept(2) and
/// getsockname(2) take and give it.
struct SocketAddress {
    /// The address bytes.
    var storage = sockaddr_storage()
    /// How many bytes of `storage` are the address.
    var length = socklen_t(MemoryLayout<sockaddr_storage>.size)

    /// Room for accept(2) or getsockname(2) to fill in.
    init() {}

    /// `host` (an IPv4 or IPv6 literal, IPv6 optionally in brackets) and `port`; nil
    /// if `host` is neither.
    init?(host: String, port: UInt16) {
        if let v4 = IPv4Address(host) {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            address.sin_addr = v4.address
            withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: address, as: sockaddr_in.self) }
            length = socklen_t(MemoryLayout<sockaddr_in>.size)
        } else if let v6 = IPv6Address(host) {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = port.bigEndian
            address.sin6_addr = v6.address
            withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: address, as: sockaddr_in6.self) }
            length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        } else {
            return nil
        }
    }

    /// AF_INET or AF_INET6.
    var family: Int32 { Int32(storage.ss_family) }

    /// The port in host order.
    var port: UInt16 {
        withUnsafeBytes(of: storage) { raw in
            switch family {
            case AF_INET: UInt16(bigEndian: raw.load(as: sockaddr_in.self).sin_port)
            case AF_INET6: UInt16(bigEndian: raw.load(as: sockaddr_in6.self).sin6_port)
            default: 0
            }
        }
    }

    /// The host as text (`127.0.0.1`, `::1`).
    var host: String { withSockaddr { address, _ in Self.host(of: address) } }

    /// Calls `body` with the address as the `sockaddr` pointer and length system calls take.
    func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        withUnsafeBytes(of: storage) { raw in
            body(raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), length)
        }
    }

    /// Calls `body` with room for a system call to write an address into.
    mutating func withMutableSockaddr<R>(_ body: (UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> R) -> R {
        length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        return withUnsafeMutableBytes(of: &storage) { raw in
            body(raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), &length)
        }
    }

    /// The host part of an IPv4 or IPv6 `address` as text; empty for other families.
    static func host(of address: UnsafePointer<sockaddr>?) -> String {
        guard let address else { return "" }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        switch Int32(address.pointee.sa_family) {
        case AF_INET:
            var v4 = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
            inet_ntop(AF_INET, &v4, &text, socklen_t(text.count))
        case AF_INET6:
            var v6 = address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
            inet_ntop(AF_INET6, &v6, &text, socklen_t(text.count))
        default:
            return ""
        }
        return text.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }
}

/// An IPv4 literal parsed with inet_pton.
struct IPv4Address {
    var address = in_addr()
    init?(_ text: String) {
        guard inet_pton(AF_INET, text, &address) == 1 else { return nil }
    }
}

/// An IPv6 literal parsed with inet_pton (brackets allowed).
struct IPv6Address {
    var address = in6_addr()
    init?(_ text: String) {
        var bare = text
        if bare.hasPrefix("[") && bare.hasSuffix("]") { bare = String(bare.dropFirst().dropLast()) }
        guard inet_pton(AF_INET6, bare, &address) == 1 else { return nil }
    }
}
