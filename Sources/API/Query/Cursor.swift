public import Sampling

/// Where a page of sockets ends. Pages are cut from the sockets sorted by
/// (proto, family, local, remote, inode, network namespace), and the cursor is the last key served, so
/// the next page continues after it even though the snapshot has been refreshed in
/// between: no socket is served twice, and one opened meanwhile that sorts later is
/// still served. The namespace tells apart two TIME_WAITs (inode 0) with the same
/// addresses in two namespaces.
public struct SocketCursor: Sendable, Comparable {
    let proto: UInt8
    let family: UInt8
    let localHigh: UInt64, localLow: UInt64, localPort: UInt16
    let remoteHigh: UInt64, remoteLow: UInt64, remotePort: UInt16
    let inode: UInt64
    let netns: UInt64

    /// The sort key of `socket`.
    public init(_ socket: borrowing Socket) {
        proto = socket.proto == .tcp ? 0 : 1
        family = socket.family == .ipv4 ? 0 : 1
        localHigh = socket.local.address.high
        localLow = socket.local.address.low
        localPort = socket.local.port
        remoteHigh = socket.remote.address.high
        remoteLow = socket.remote.address.low
        remotePort = socket.remote.port
        inode = socket.inode
        netns = socket.netns ?? 0
    }

    private var tuple: [UInt64] {
        [UInt64(proto), UInt64(family), localHigh, localLow, UInt64(localPort), remoteHigh, remoteLow, UInt64(remotePort), inode, netns]
    }

    public static func < (a: SocketCursor, b: SocketCursor) -> Bool {
        a.tuple.lexicographicallyPrecedes(b.tuple)
    }

    public static func == (a: SocketCursor, b: SocketCursor) -> Bool { a.tuple == b.tuple }

    /// The cursor as text for `next` (hex fields joined by `.`; opaque to clients).
    public var text: String {
        tuple.map { String($0, radix: 16) }.joined(separator: ".")
    }

    /// Parses `text` made by `text`; nil when it is not one. A cursor of nine fields
    /// (from before namespaces were in the key) continues as namespace 0.
    public init?(text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false).map { UInt64($0, radix: 16) }
        guard parts.count == 9 || parts.count == 10, parts.allSatisfy({ $0 != nil }) else { return nil }
        let v = parts.map { $0! }
        guard v[0] <= 1, v[1] <= 1, v[4] <= 65535, v[7] <= 65535 else { return nil }
        proto = UInt8(v[0]); family = UInt8(v[1])
        localHigh = v[2]; localLow = v[3]; localPort = UInt16(v[4])
        remoteHigh = v[5]; remoteLow = v[6]; remotePort = UInt16(v[7])
        inode = v[8]
        netns = parts.count == 10 ? v[9] : 0
    }
}

/// Cuts one page out of a list of sockets.
public enum Paging {
    /// The page after `cursor` of at most `limit` of the sockets at `indices`, and the
    /// cursor of the next page (nil on the last). Without limit and cursor the list is
    /// returned whole, in kernel order, unsorted (sorting 200,000 sockets per request
    /// costs for nothing).
    public static func page(_ indices: [Int], of sockets: [Socket], limit: Int?, cursor: SocketCursor?) -> ([Int], String?) {
        guard limit != nil || cursor != nil else { return (indices, nil) }
        var keyed: [(SocketCursor, Int)] = sockets.withUnsafeBufferPointer { buffer in
            indices.map { (SocketCursor(buffer[$0]), $0) }
        }
        if let cursor { keyed.removeAll { !(cursor < $0.0) } }
        keyed.sort { $0.0 < $1.0 }
        let size = limit ?? keyed.count
        let page = keyed.prefix(size)
        let next = keyed.count > size ? page.last.map { $0.0.text } : nil
        return (page.map(\.1), next)
    }
}
