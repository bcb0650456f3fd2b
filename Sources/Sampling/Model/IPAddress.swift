import Glibc

/// An IPv4 or IPv6 address as the kernel hands it over (network byte order),
/// stored inline so a 200,000-socket snapshot allocates nothing per address.
public struct IPAddress: Hashable, Sendable {
    // The family last: first, it was padded to 8 bytes (24 in all); last, an
    // Endpoint's port fits beside it (20 bytes, a socket holding two of them 8 less).
    /// The 16 bytes of an IPv6 address, or the 4 bytes of an IPv4 address in `high`'s
    /// top 32 bits, both in network byte order read as big-endian integers.
    public let high: UInt64
    /// The low 8 bytes of an IPv6 address (zero for IPv4).
    public let low: UInt64
    /// The address family.
    public let family: AddressFamily

    /// An IPv4 address from its four bytes in network order (`a.b.c.d` is `a<<24 | ...`).
    public init(ipv4 value: UInt32) {
        family = .ipv4
        high = UInt64(value) << 32
        low = 0
    }

    /// An IPv6 address from its 16 bytes in network order.
    public init(ipv6 high: UInt64, _ low: UInt64) {
        family = .ipv6
        self.high = high
        self.low = low
    }

    /// The unspecified address of a family (`0.0.0.0` or `::`).
    public static func any(_ family: AddressFamily) -> IPAddress {
        family == .ipv4 ? IPAddress(ipv4: 0) : IPAddress(ipv6: 0, 0)
    }

    /// The IPv4 value, for an IPv4 address.
    public var ipv4Value: UInt32 { UInt32(truncatingIfNeeded: high >> 32) }

    /// The network of `prefix` bits holding this address (prefix clamped to the family's width).
    public func masked(toPrefix prefix: Int) -> IPAddress {
        switch family {
        case .ipv4:
            let prefix = min(32, max(0, prefix))
            let bits: UInt32 = prefix == 0 ? 0 : ~UInt32(0) << UInt32(32 - prefix)
            return IPAddress(ipv4: ipv4Value & bits)
        case .ipv6:
            let prefix = min(128, max(0, prefix))
            let highBits: UInt64 = prefix >= 64 ? ~0 : (prefix == 0 ? 0 : ~UInt64(0) << UInt64(64 - prefix))
            let lowBits: UInt64 = prefix <= 64 ? 0 : (prefix == 128 ? ~0 : ~UInt64(0) << UInt64(128 - prefix))
            return IPAddress(ipv6: high & highBits, low & lowBits)
        }
    }

    /// True for `0.0.0.0` and `::`.
    public var isUnspecified: Bool { high == 0 && low == 0 }

    /// True for 127.0.0.0/8, `::1`, and `::ffff:127.x.y.z`.
    public var isLoopback: Bool {
        switch family {
        case .ipv4: return (ipv4Value >> 24) == 127
        case .ipv6:
            if high == 0 && low == 1 { return true }
            if let mapped = ipv4Mapped { return mapped.isLoopback }
            return false
        }
    }

    /// The IPv4 address inside an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`).
    public var ipv4Mapped: IPAddress? {
        guard family == .ipv6, high == 0, (low >> 32) == 0xffff else { return nil }
        return IPAddress(ipv4: UInt32(truncatingIfNeeded: low))
    }

    /// Parses `a.b.c.d` or any RFC 4291 IPv6 text form; nil when it is neither.
    public init?(_ text: String) {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            self.init(ipv4: UInt32(bigEndian: v4.s_addr))
            return
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, text, &v6) == 1 else { return nil }
        let (h, l) = withUnsafeBytes(of: &v6) { raw in
            (UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
             UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
        }
        self.init(ipv6: h, l)
    }
}

extension IPAddress: CustomStringConvertible {
    /// Dotted quad or RFC 5952 text, as `ss -n` prints it.
    public var description: String {
        switch family {
        case .ipv4:
            let v = ipv4Value
            return "\(v >> 24).\((v >> 16) & 0xff).\((v >> 8) & 0xff).\(v & 0xff)"
        case .ipv6:
            var raw = in6_addr()
            withUnsafeMutableBytes(of: &raw) { buf in
                buf.storeBytes(of: high.bigEndian, toByteOffset: 0, as: UInt64.self)
                buf.storeBytes(of: low.bigEndian, toByteOffset: 8, as: UInt64.self)
            }
            var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            guard inet_ntop(AF_INET6, &raw, &text, socklen_t(text.count)) != nil else { return "::" }
            return text.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        }
    }
}

/// An address and port; port 0 with an unspecified address is netstat's `*`.
public struct Endpoint: Hashable, Sendable {
    /// The IP address.
    public var address: IPAddress
    /// The port (host order).
    public var port: UInt16

    /// An endpoint from its parts.
    public init(address: IPAddress, port: UInt16) {
        self.address = address
        self.port = port
    }
}
