/// Reads the socket tables over NETLINK_SOCK_DIAG, one dump per (family, protocol),
/// as `ss` does. The socket is kept open between samples.
final class SockDiagReader {
    private let socket: NetlinkSocket

    /// The namespace's `tcp_ehash_entries` (`NetNamespace.tcpTableBuckets`), read
    /// where the socket was opened: fixed for the namespace's life, like the socket's.
    let tcpTableBuckets: Int?

    /// Opens the netlink socket in the caller's network namespace; throws when the
    /// kernel refuses NETLINK_SOCK_DIAG.
    init() throws {
        socket = try NetlinkSocket()
        tcpTableBuckets = SharedTCPTable.ownBuckets(procRoot: "/proc")
    }

    /// Reads through `socket` (one opened inside another network namespace, whose
    /// `tcp_ehash_entries` was read there).
    init(socket: NetlinkSocket, tcpTableBuckets: Int?) {
        self.socket = socket
        self.tcpTableBuckets = tcpTableBuckets
    }

    /// The cookie of the network namespace read (SO_NETNS_COOKIE), nil on kernels
    /// before 5.14; asked once, since a socket never changes namespace.
    private(set) lazy var namespaceCookie: UInt64? = socket.namespaceCookie()

    /// Dumps the kernel restarted because a table changed under them (NLM_F_DUMP_INTR)
    /// since the last `takeRestarts`.
    private var restarts = 0

    /// How many dumps were restarted since the last call (for the sample's problems).
    func takeRestarts() -> Int {
        defer { restarts = 0 }
        return restarts
    }

    /// How many times a dump the kernel flags interrupted is tried in all; the last
    /// try is kept even if flagged (a table that never holds still is still read).
    static let attempts = 3

    /// Runs `dump`, and again (dropping what it appended) while the kernel flags it
    /// interrupted, at most `attempts` times.
    private func consistent(_ sockets: inout [Socket], _ dump: (inout [Socket]) throws -> Bool) rethrows {
        let before = sockets.count
        for attempt in 1...Self.attempts {
            guard try dump(&sockets), attempt < Self.attempts else { return }
            restarts += 1
            sockets.removeSubrange(before...)
        }
    }

    /// Appends every TCP socket of both families to `sockets` with one dump.
    func dumpTCPBothFamilies(
        states: UInt32, tcpInfo: Bool, buffer: NetlinkReceiveBuffer, into sockets: inout [Socket]
    ) throws {
        let payload = InetDiag.compatTCPRequest(states: states, tcpInfo: tcpInfo)
        try consistent(&sockets) { sockets in
            try socket.dump(type: InetDiag.compatTCPMessageType, payload: payload, what: "tcp/both", buffer: buffer) { message in
                if let decoded = InetDiag.decode(message, proto: .tcp) { sockets.append(decoded) }
            }
        }
    }

    /// Appends every socket of one table to `sockets`.
    func dump(
        family: AddressFamily, proto: TransportProtocol, states: UInt32, tcpInfo: Bool,
        buffer: NetlinkReceiveBuffer, into sockets: inout [Socket]
    ) throws {
        let payload = InetDiag.request(family: family, proto: proto, states: states, tcpInfo: tcpInfo)
        try consistent(&sockets) { sockets in
            try socket.dump(
                type: InetDiag.messageType, payload: payload, what: "\(proto.rawValue)/\(family.rawValue)", buffer: buffer
            ) { message in
                if let decoded = InetDiag.decode(message, proto: proto) { sockets.append(decoded) }
            }
        }
    }
}
