public import Sampling

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
enum StateCountsBlob {
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
    static func split(_ key: Int) -> (TransportProtocol, SocketState) {
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

/// A TCP connection's final counters: from its close event, or the last sample that
/// had its tcp_info. Each field is nil where the kernel did not say.
public struct ConnectionTotals: Sendable, Equatable {
    /// Bytes the peer acknowledged (tcpi_bytes_acked): what was sent and arrived.
    public var bytesSent: UInt64?
    public var bytesReceived: UInt64?
    public var segsOut: UInt64?
    public var segsIn: UInt64?
    public var retransmits: UInt64?
    public var rttUs: UInt64?
    public var minRttUs: UInt64?

    /// The totals in a tcp_info.
    public init(_ info: TCPInfo) {
        bytesSent = info.bytesAcked
        bytesReceived = info.bytesReceived
        segsOut = info.segsOut.map(UInt64.init)
        segsIn = info.segsIn.map(UInt64.init)
        retransmits = UInt64(info.totalRetrans)
        rttUs = UInt64(info.rttUs)
        minRttUs = info.minRttUs.map(UInt64.init)
    }

    init() {}

    private var fields: [UInt64?] {
        get { [bytesSent, bytesReceived, segsOut, segsIn, retransmits, rttUs, minRttUs] }
        set { (bytesSent, bytesReceived, segsOut, segsIn, retransmits, rttUs, minRttUs) = (newValue[0], newValue[1], newValue[2], newValue[3], newValue[4], newValue[5], newValue[6]) }
    }

    /// A presence bitmask, then each present field as a varint: 8 to 20 bytes.
    func encode() -> [UInt8] {
        var mask: UInt64 = 0
        var bytes: [UInt8] = []
        for (index, field) in fields.enumerated() where field != nil { mask |= 1 << UInt64(index) }
        Varint.append(mask, to: &bytes)
        for field in fields { if let field { Varint.append(field, to: &bytes) } }
        return bytes
    }

    /// Decodes `encode`'s bytes; nil for none or a damaged blob.
    static func decode(_ bytes: [UInt8]) -> ConnectionTotals? {
        guard !bytes.isEmpty else { return nil }
        var index = 0
        return read(bytes, &index)
    }

    /// Reads `encode`'s bytes at `index` (a packed block holds them among others),
    /// leaving `index` past them; nil for damaged bytes.
    static func read(_ bytes: [UInt8], _ index: inout Int) -> ConnectionTotals? {
        guard let mask = Varint.read(bytes, &index) else { return nil }
        var totals = ConnectionTotals()
        var values = totals.fields
        for position in values.indices where mask & (1 << UInt64(position)) != 0 {
            guard let value = Varint.read(bytes, &index) else { return nil }
            values[position] = value
        }
        totals.fields = values
        return totals
    }
}

/// Where a connection row came from (the `origin` column's bits).
public struct ConnectionOrigin: OptionSet, Sendable {
    public let rawValue: Int64
    public init(rawValue: Int64) { self.rawValue = rawValue }
    /// Never in a sample: known only through its close event.
    public static let closeEvent = ConnectionOrigin(rawValue: 1)
    /// Its owners are the processes of the listener that accepted it, not read from /proc.
    public static let ownerInferred = ConnectionOrigin(rawValue: 2)
    /// Its Recv-Q and Send-Q were recorded whenever they changed (rows written before
    /// that was done have unknown queues between their backlog episodes).
    public static let queuesRecorded = ConnectionOrigin(rawValue: 4)
}
