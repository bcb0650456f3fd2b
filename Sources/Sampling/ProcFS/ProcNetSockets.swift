import Glibc

/// The fallback socket reader: `/proc/net/{tcp,tcp6,udp,udp6}`, what netstat reads
/// (formats from net/ipv4/tcp_ipv4.c get_tcp4_sock, net/ipv6/tcp_ipv6.c, udp.c).
///
/// It differs from netlink by what the files lack: no socket cookie, no v6only, and
/// for a listener `tx_queue` is 0 where netlink reports the backlog limit.
public enum ProcNetSockets {
    /// The four tables and the protocol and family of each.
    static let tables: [(file: String, proto: TransportProtocol, family: AddressFamily)] = [
        ("tcp", .tcp, .ipv4), ("tcp6", .tcp, .ipv6), ("udp", .udp, .ipv4), ("udp6", .udp, .ipv6),
    ]

    /// Reads every table under `<procRoot>/net`. A missing or unreadable file (IPv6
    /// disabled, say) is named in `problems.socketTablesUnreadable` and skipped.
    public static func read(
        procRoot: String, tables wanted: [(TransportProtocol, AddressFamily)]? = nil,
        problems: inout SamplingProblems
    ) -> [Socket] {
        var sockets: [Socket] = []
        for table in tables where wanted?.contains(where: { $0 == (table.proto, table.family) }) ?? true {
            let path = procRoot + "/net/" + table.file
            do {
                let bytes = try FileContents.bytes(atPath: path)
                var malformed = 0
                sockets += parse(bytes, proto: table.proto, family: table.family, malformed: &malformed)
                problems.malformedLines += malformed
            } catch {
                problems.socketTablesUnreadable.append("\(table.proto.rawValue)/\(table.family.rawValue): \(error)")
            }
        }
        return sockets
    }

    /// Parses one table's text. Lines that cannot be parsed are counted in `malformed`.
    static func parse(
        _ bytes: [UInt8], proto: TransportProtocol, family: AddressFamily, malformed: inout Int
    ) -> [Socket] {
        var sockets: [Socket] = []
        sockets.reserveCapacity(bytes.count / 150)
        let millisPerTick = 1000 / UInt64(max(1, sysconf(Int32(_SC_CLK_TCK))))
        bytes.withUnsafeBufferPointer { buffer in
            var start = 0
            var isHeader = true
            while start < buffer.count {
                var end = start
                while end < buffer.count && buffer[end] != 0x0a { end += 1 }
                defer { start = end + 1 }
                if isHeader {
                    isHeader = false
                    continue
                }
                var line = LineScanner(buffer: buffer, position: start, end: end)
                if line.atEnd { continue }
                if let socket = parseLine(&line, proto: proto, family: family, millisPerTick: millisPerTick) {
                    sockets.append(socket)
                } else {
                    malformed += 1
                }
            }
        }
        return sockets
    }

    private static func parseLine(
        _ line: inout LineScanner, proto: TransportProtocol, family: AddressFamily, millisPerTick: UInt64
    ) -> Socket? {
        guard line.skipField(),  // "sl:"
              let local = line.endpoint(family: family),
              let remote = line.endpoint(family: family),
              let stateCode = line.hex(), let state = SocketState(rawValue: UInt8(truncatingIfNeeded: stateCode)),
              stateCode <= 0xff,
              let txQueue = line.hex(until: UInt8(ascii: ":")), let rxQueue = line.hex(),
              let timerCode = line.hex(until: UInt8(ascii: ":")), let when = line.hex(),
              let retransmits = line.hex(),
              let uid = line.decimal(),
              line.skipField(),  // timeout
              let inode = line.decimal()
        else { return nil }
        var socket = Socket(
            proto: proto, family: family, state: state, local: local, remote: remote,
            recvQ: UInt32(truncatingIfNeeded: rxQueue), sendQ: UInt32(truncatingIfNeeded: txQueue),
            uid: UInt32(truncatingIfNeeded: uid), inode: inode)
        if let kind = SocketTimer.kind(code: UInt8(truncatingIfNeeded: timerCode)) {
            socket.timer = SocketTimer(
                kind: kind, expiresMs: UInt32(truncatingIfNeeded: when &* millisPerTick),
                retransmits: UInt8(truncatingIfNeeded: retransmits))
        }
        if proto == .udp {
            // udp: "... inode ref pointer drops"; older kernels end after the pointer.
            _ = line.skipField()
            _ = line.skipField()
            if let drops = line.decimal() { socket.drops = UInt32(truncatingIfNeeded: drops) }
        }
        return socket
    }
}

/// Reads space-separated hex and decimal fields from one line without allocating.
struct LineScanner {
    let buffer: UnsafeBufferPointer<UInt8>
    var position: Int
    let end: Int

    init(buffer: UnsafeBufferPointer<UInt8>, position: Int, end: Int) {
        self.buffer = buffer
        self.position = position
        self.end = end
        skipSpaces()
    }

    var atEnd: Bool { position >= end }

    mutating func skipSpaces() {
        while position < end && (buffer[position] == 0x20 || buffer[position] == 0x09) { position += 1 }
    }

    /// Skips one field; false when the line has ended.
    mutating func skipField() -> Bool {
        skipSpaces()
        guard position < end else { return false }
        while position < end && buffer[position] != 0x20 { position += 1 }
        return true
    }

    /// A hex number ending at a space, `terminator` (consumed) or the line's end.
    mutating func hex(until terminator: UInt8 = 0x20) -> UInt64? {
        skipSpaces()
        var value: UInt64 = 0
        var digits = 0
        while position < end {
            let byte = buffer[position]
            let nibble: UInt8
            switch byte {
            case 48...57: nibble = byte - 48
            case 65...70: nibble = byte - 55
            case 97...102: nibble = byte - 87
            default:
                if byte == terminator && terminator != 0x20 { position += 1; return digits > 0 ? value : nil }
                return byte == 0x20 && digits > 0 && terminator == 0x20 ? value : nil
            }
            guard digits < 16 else { return nil }
            value = value << 4 | UInt64(nibble)
            digits += 1
            position += 1
        }
        return digits > 0 && terminator == 0x20 ? value : nil
    }

    /// A decimal number ending at a space or the line's end.
    mutating func decimal() -> UInt64? {
        skipSpaces()
        var value: UInt64 = 0
        var digits = 0
        while position < end, buffer[position] != 0x20 {
            let byte = buffer[position]
            guard byte >= 48 && byte <= 57, digits < 20 else { return nil }
            value = value &* 10 &+ UInt64(byte - 48)
            digits += 1
            position += 1
        }
        return digits > 0 ? value : nil
    }

    /// `ADDRESS:PORT` where the address is the kernel's 32-bit words printed as native
    /// (little-endian here) integers: "0100007F" is 127.0.0.1.
    mutating func endpoint(family: AddressFamily) -> Endpoint? {
        skipSpaces()
        let words = family == .ipv4 ? 1 : 4
        var bytes: [UInt32] = []
        bytes.reserveCapacity(words)
        for _ in 0..<words {
            guard position + 8 <= end else { return nil }
            var word: UInt32 = 0
            for _ in 0..<8 {
                guard let nibble = Self.nibble(buffer[position]) else { return nil }
                word = word << 4 | UInt32(nibble)
                position += 1
            }
            // The word was printed from memory in host order; its bytes in memory are
            // the address bytes in network order.
            bytes.append(UInt32(littleEndian: word).byteSwapped)
        }
        guard position < end, buffer[position] == UInt8(ascii: ":") else { return nil }
        position += 1
        guard let port = hex(), port <= 0xffff else { return nil }
        let address: IPAddress
        if family == .ipv4 {
            address = IPAddress(ipv4: bytes[0])
        } else {
            address = IPAddress(ipv6: UInt64(bytes[0]) << 32 | UInt64(bytes[1]), UInt64(bytes[2]) << 32 | UInt64(bytes[3]))
        }
        return Endpoint(address: address, port: UInt16(port))
    }

    private static func nibble(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 48...57: return byte - 48
        case 65...70: return byte - 55
        case 97...102: return byte - 87
        default: return nil
        }
    }
}
