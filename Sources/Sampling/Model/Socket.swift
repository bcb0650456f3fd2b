/// One TCP or UDP socket as the kernel reports it, with the processes holding it.
public struct Socket: Sendable, Equatable {
    // Stored in this order, not the order read, to pack the struct: Swift lays a
    // field out at its size, not its stride, so the one-byte fields fill the tail
    // of the 20-byte local endpoint, and 4-byte fields the gaps the 8-byte ones
    // would leave. 136 bytes a socket instead of 160 (at 50,000 sockets this array
    // is a third of a snapshot's peak memory).
    /// Local address and port.
    public var local: Endpoint
    /// TCP or UDP.
    public var proto: TransportProtocol
    /// IPv4 or IPv6 (an IPv6 socket talking to an IPv4 peer stays IPv6, with a mapped address).
    public var family: AddressFamily
    /// Kernel state.
    public var state: SocketState
    /// For IPv6 sockets: whether IPV6_V6ONLY is set (a `::` listener without it takes IPv4 too).
    public var v6only: Bool?
    /// Bytes not yet read by the application; for a listener, the connections
    /// waiting in the accept queue.
    public var recvQ: UInt32
    /// Bytes not yet acknowledged by the peer; for a listener, the accept backlog limit.
    public var sendQ: UInt32
    /// Remote address and port; unspecified with port 0 when not connected.
    public var remote: Endpoint
    /// Owning user id.
    public var uid: UInt32
    /// Interface index the socket is bound to, 0 when not bound to one.
    public var boundInterface: UInt32
    /// Packets dropped by this socket (`ss -m`'s `d` field, `/proc/net/udp`'s drops).
    public var drops: UInt32?
    /// The active timer (`ss -o`), when known.
    public var timer: SocketTimer?
    /// Inode of the socket in sockfs; 0 for TIME_WAIT and request sockets, which have none.
    public var inode: UInt64
    /// tcp_info, when asked for and the socket is TCP with a full socket behind it.
    /// Kept out of line: most samples do not ask for it, and inline it would triple
    /// the size of every socket in a 200,000-socket snapshot.
    public var tcpInfo: TCPInfo? {
        get { tcpInfoBox?.value }
        set { tcpInfoBox = newValue.map(TCPInfoBox.init) }
    }
    private var tcpInfoBox: TCPInfoBox?
    /// Every (process, fd) holding the socket, in (pid, fd) order; empty when no
    /// process does (TIME_WAIT, not yet accepted).
    public var processes: SocketOwners
    /// The kernel's socket cookie, stable for the socket's life (nil from /proc, which lacks it).
    public var cookie: UInt64?
    /// The network namespace the socket lives in: the inode of its nsfs file (what
    /// `readlink /proc/<pid>/ns/net` shows as `net:[inode]`). With the cookie, the
    /// socket's identity. nil only where it cannot be known (a captured proc tree).
    public var netns: UInt64?

    /// A Recv-Q or Send-Q that is not known (a past socket recorded before queues
    /// were kept): rendered as null or `-`, never as a number. No kernel queue holds
    /// 2^32-1 bytes (buffers are capped at 2^31).
    public static let unknownQueue = UInt32.max

    /// Recv-Q, nil when it is not known.
    public var knownRecvQ: UInt32? { recvQ == Self.unknownQueue ? nil : recvQ }

    /// Send-Q (a listener's backlog), nil when it is not known: a past socket's from
    /// before queues were kept, or a listener read from /proc, whose tx_queue is 0
    /// where netlink reports the backlog (netlink always gives a cookie, /proc never).
    public var knownSendQ: UInt32? {
        if sendQ == Self.unknownQueue || (proto == .tcp && state == .listen && cookie == nil) { return nil }
        return sendQ
    }

    /// A socket from its fields; the optional ones default to unknown.
    public init(
        proto: TransportProtocol, family: AddressFamily, state: SocketState,
        local: Endpoint, remote: Endpoint, recvQ: UInt32, sendQ: UInt32, uid: UInt32,
        inode: UInt64, cookie: UInt64? = nil, v6only: Bool? = nil, drops: UInt32? = nil,
        boundInterface: UInt32 = 0, timer: SocketTimer? = nil, tcpInfo: TCPInfo? = nil,
        processes: SocketOwners = [], netns: UInt64? = nil
    ) {
        self.proto = proto
        self.family = family
        self.state = state
        self.local = local
        self.remote = remote
        self.recvQ = recvQ
        self.sendQ = sendQ
        self.uid = uid
        self.inode = inode
        self.cookie = cookie
        self.v6only = v6only
        self.drops = drops
        self.boundInterface = boundInterface
        self.timer = timer
        self.tcpInfoBox = tcpInfo.map(TCPInfoBox.init)
        self.processes = processes
        self.netns = netns
    }

    /// netstat's state name for this socket (`UNCONN` for unconnected UDP).
    public var stateName: String { state.name(for: proto) }

    /// True for a TCP listener or an unconnected, bound UDP socket.
    public var isListening: Bool {
        switch proto {
        case .tcp: return state == .listen
        case .udp: return state == .close
        }
    }
}

/// A process holding a socket through one of its file descriptors.
public struct SocketOwner: Sendable, Hashable {
    // pid and fd side by side: apart, each was padded to 8 bytes, and an owner took
    // 48 bytes instead of 40.
    /// Process id.
    public var pid: Int32
    /// The file descriptor number in that process.
    public var fd: Int32
    /// The process's start time in clock ticks since boot (`/proc/<pid>/stat` field 22):
    /// with the pid, the process's identity, since pids are reused.
    public var startTime: UInt64
    /// The short command name (`/proc/<pid>/stat`'s comm, as `ss -p` shows).
    public var name: String
    /// The container (or systemd service) the process runs in, from its
    /// `/proc/<pid>/cgroup`; nil when it shows none.
    public var container: ContainerReference? {
        get { containerBox?.value }
        set { containerBox = newValue.map(ContainerBox.init) }
    }
    /// Kept out of line, one box shared by every owner of the same process: inline,
    /// the reference (a runtime and three strings) was 57 of an owner's 96 bytes,
    /// and every socket of a sample holds its owners in an array of its own.
    private(set) var containerBox: ContainerBox?

    /// An owner from its fields.
    public init(pid: Int32, startTime: UInt64, name: String, fd: Int32, container: ContainerReference? = nil) {
        self.init(pid: pid, startTime: startTime, name: name, fd: fd, containerBox: container.map(ContainerBox.init))
    }

    /// An owner sharing `containerBox` with the process's other owners.
    init(pid: Int32, startTime: UInt64, name: String, fd: Int32, containerBox: ContainerBox?) {
        self.pid = pid
        self.startTime = startTime
        self.name = name
        self.fd = fd
        self.containerBox = containerBox
    }
}

/// Immutable heap box for an owner's container (see `SocketOwner.container`),
/// compared and hashed by value.
final class ContainerBox: Sendable, Hashable {
    let value: ContainerReference
    init(_ value: ContainerReference) { self.value = value }
    static func == (a: ContainerBox, b: ContainerBox) -> Bool { a.value == b.value }
    func hash(into hasher: inout Hasher) { hasher.combine(value) }
}

/// A socket's pending kernel timer, as `ss -o` prints it (`timer:(keepalive,9.5sec,0)`).
public struct SocketTimer: Sendable, Hashable {
    /// What the timer is for.
    public enum Kind: String, Sendable, Hashable {
        /// Retransmission timer ("on" in ss).
        case retransmit = "on"
        case keepalive
        case timewait
        /// Zero-window probe timer.
        case persist
        /// Delayed ack / other.
        case delack
        case unknown
    }
    /// The timer kind.
    public var kind: Kind
    /// Milliseconds until it fires (0 when already due).
    public var expiresMs: UInt32
    /// Retransmissions or probes sent so far.
    public var retransmits: UInt8

    /// A timer from its fields.
    public init(kind: Kind, expiresMs: UInt32, retransmits: UInt8) {
        self.kind = kind
        self.expiresMs = expiresMs
        self.retransmits = retransmits
    }

    /// inet_diag's and /proc/net/tcp's timer codes (net/ipv4/tcp_ipv4.c, get_tcp4_sock):
    /// 1 retransmit (or loss probe/RTO), 2 keepalive, 3 TIME_WAIT, 4 zero-window probe.
    public static func kind(code: UInt8) -> Kind? {
        switch code {
        case 0: return nil
        case 1: return .retransmit
        case 2: return .keepalive
        case 3: return .timewait
        case 4: return .persist
        default: return .unknown
        }
    }
}

/// The subset of Linux `struct tcp_info` that netstatd serves (include/uapi/linux/tcp.h).
public struct TCPInfo: Sendable, Hashable {
    /// Smoothed round-trip time in microseconds.
    public var rttUs: UInt32
    /// Round-trip time variance in microseconds.
    public var rttVarUs: UInt32
    /// Minimum observed RTT in microseconds (nil on kernels before 4.6).
    public var minRttUs: UInt32?
    /// Retransmission timeout in microseconds.
    public var rtoUs: UInt32
    /// Congestion window in segments.
    public var sendCwnd: UInt32
    /// Slow-start threshold in segments.
    public var sendSsthresh: UInt32
    /// Sender MSS in bytes.
    public var sendMss: UInt32
    /// Receiver MSS in bytes.
    public var recvMss: UInt32
    /// Segments sent but not yet acknowledged.
    public var unacked: UInt32
    /// Segments currently considered lost.
    public var lost: UInt32
    /// Segments currently being retransmitted.
    public var retransCurrent: UInt32
    /// Total retransmitted segments over the connection's life.
    public var totalRetrans: UInt32
    /// Bytes acknowledged by the peer (nil on kernels before 4.1).
    public var bytesAcked: UInt64?
    /// Bytes received (nil on kernels before 4.1).
    public var bytesReceived: UInt64?
    /// Bytes sent, retransmissions included (nil on kernels before 4.19).
    public var bytesSent: UInt64?
    /// Bytes retransmitted (nil on kernels before 4.19).
    public var bytesRetrans: UInt64?
    /// Segments sent (nil on kernels before 4.2).
    public var segsOut: UInt32?
    /// Segments received (nil on kernels before 4.2).
    public var segsIn: UInt32?
    /// Milliseconds since data was last sent.
    public var lastSendMs: UInt32
    /// Milliseconds since data was last received.
    public var lastRecvMs: UInt32
    /// Pacing rate in bytes per second (nil when absent).
    public var pacingRate: UInt64?
    /// Delivery rate in bytes per second (nil on kernels before 4.9).
    public var deliveryRate: UInt64?
    /// Bytes written but not yet sent (nil when absent).
    public var notsentBytes: UInt32?

    /// A tcp_info with every field given.
    public init(
        rttUs: UInt32, rttVarUs: UInt32, minRttUs: UInt32?, rtoUs: UInt32, sendCwnd: UInt32,
        sendSsthresh: UInt32, sendMss: UInt32, recvMss: UInt32, unacked: UInt32, lost: UInt32,
        retransCurrent: UInt32, totalRetrans: UInt32, bytesAcked: UInt64?, bytesReceived: UInt64?,
        bytesSent: UInt64?, bytesRetrans: UInt64?, segsOut: UInt32?, segsIn: UInt32?,
        lastSendMs: UInt32, lastRecvMs: UInt32, pacingRate: UInt64?, deliveryRate: UInt64?,
        notsentBytes: UInt32?
    ) {
        self.rttUs = rttUs
        self.rttVarUs = rttVarUs
        self.minRttUs = minRttUs
        self.rtoUs = rtoUs
        self.sendCwnd = sendCwnd
        self.sendSsthresh = sendSsthresh
        self.sendMss = sendMss
        self.recvMss = recvMss
        self.unacked = unacked
        self.lost = lost
        self.retransCurrent = retransCurrent
        self.totalRetrans = totalRetrans
        self.bytesAcked = bytesAcked
        self.bytesReceived = bytesReceived
        self.bytesSent = bytesSent
        self.bytesRetrans = bytesRetrans
        self.segsOut = segsOut
        self.segsIn = segsIn
        self.lastSendMs = lastSendMs
        self.lastRecvMs = lastRecvMs
        self.pacingRate = pacingRate
        self.deliveryRate = deliveryRate
        self.notsentBytes = notsentBytes
    }
}

/// Immutable heap box for a socket's tcp_info (see `Socket.tcpInfo`).
final class TCPInfoBox: Sendable, Equatable {
    let value: TCPInfo
    init(_ value: TCPInfo) { self.value = value }
    static func == (a: TCPInfoBox, b: TCPInfoBox) -> Bool { a.value == b.value }
}
