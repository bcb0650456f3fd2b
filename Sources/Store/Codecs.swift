import Sampling

/// proto and family packed in one small integer (bit 0: UDP, bit 1: IPv6).
public enum ConnectionKind {
    static func encode(_ proto: TransportProtocol, _ family: AddressFamily) -> Int64 {
        (proto == .udp ? 1 : 0) | (family == .ipv6 ? 2 : 0)
    }

    /// The protocol and family of a packed kind.
    public static func decode(_ value: Int64) -> (TransportProtocol, AddressFamily) {
        (value & 1 == 1 ? .udp : .tcp, value & 2 == 2 ? .ipv6 : .ipv4)
    }
}

/// Addresses as 4 or 16 network-order bytes.
public enum AddressBytes {
    static func encode(_ address: IPAddress) -> [UInt8] {
        switch address.family {
        case .ipv4: return withUnsafeBytes(of: address.ipv4Value.bigEndian, Array.init)
        case .ipv6: return withUnsafeBytes(of: address.high.bigEndian, Array.init) + withUnsafeBytes(of: address.low.bigEndian, Array.init)
        }
    }

    /// The address in `bytes` (4 or 16 of them).
    public static func decode(_ bytes: [UInt8]) -> IPAddress {
        func load(_ range: Range<Int>) -> UInt64 { bytes[range].reduce(0) { $0 << 8 | UInt64($1) } }
        if bytes.count == 4 { return IPAddress(ipv4: UInt32(load(0..<4))) }
        guard bytes.count == 16 else { return .any(.ipv4) }
        return IPAddress(ipv6: load(0..<8), load(8..<16))
    }
}

/// State counts packed as (key, count) pairs, key = proto << 4 | state, each a varint:
/// about 20 bytes a sample instead of a row per state.
public enum StateCountsBlob {
    /// Counts by packed key.
    static func counts(_ sockets: [Socket]) -> [Int: Int] {
        var counts: [Int: Int] = [:]
        sockets.withUnsafeBufferPointer { buffer in
            for index in buffer.indices {
                counts[key(buffer[index].proto, buffer[index].state), default: 0] += 1
            }
        }
        return counts
    }

    static func key(_ proto: TransportProtocol, _ state: SocketState) -> Int {
        (proto == .udp ? 1 : 0) << 4 | Int(state == .newSynRecv ? SocketState.synRecv.rawValue : state.rawValue)
    }

    /// The protocol and state of a packed key.
    public static func split(_ key: Int) -> (TransportProtocol, SocketState) {
        (key >> 4 == 1 ? .udp : .tcp, SocketState(rawValue: UInt8(key & 15)) ?? .close)
    }

    static func encode(counts: [Int: Int]) -> [UInt8] {
        var bytes: [UInt8] = []
        for (key, count) in counts.sorted(by: { $0.key < $1.key }) {
            Varint.append(UInt64(key), to: &bytes)
            Varint.append(UInt64(count), to: &bytes)
        }
        return bytes
    }

    /// Decodes a blob made by `encode`; a truncated tail is ignored.
    public static func decode(_ bytes: [UInt8]) -> [Int: Int] {
        var result: [Int: Int] = [:]
        var index = 0
        while index < bytes.count {
            guard let key = Varint.read(bytes, &index), let count = Varint.read(bytes, &index) else { break }
            result[Int(key)] = Int(count)
        }
        return result
    }

}

/// An owner of a connection packed in one integer: the `processes` row id and the fd
/// (24 bits; fds beyond are masked, as no process holds 16 million descriptors).
public enum OwnerCode {
    static func pack(process: Int64, fd: Int32) -> Int64 {
        process << 24 | Int64(fd & 0xff_ffff)
    }

    static func unpack(_ value: Int64) -> (process: Int64, fd: Int32) {
        (value >> 24, Int32(value & 0xff_ffff))
    }
}

/// Queue sizes packed in one integer: Recv-Q in the high 32 bits, Send-Q in the low.
public enum QueueCode {
    static func pack(recv: UInt32, send: UInt32) -> Int64 {
        Int64(recv) << 32 | Int64(send)
    }

    static func unpack(_ value: Int64) -> (recv: UInt32, send: UInt32) {
        (UInt32(truncatingIfNeeded: value >> 32), UInt32(truncatingIfNeeded: value))
    }
}
