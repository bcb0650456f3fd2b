import Glibc
internal import CNetlink

/// One socket the kernel freed, as its close event announced it: the 4-tuple, the
/// cookie, the state it ended in and, for TCP, its final tcp_info. uid and inode are
/// 0 and there is no owner: the process is gone from the socket by then.
public struct CloseEvent: Sendable {
    /// The socket as the event describes it (uid, inode and processes empty); its
    /// `netns` is the namespace it lived in when read in another namespace than
    /// netstatd's (`CloseEventSocket.netns`), nil for netstatd's own.
    public var socket: Socket
    /// When netstatd received the event (Unix seconds, whole milliseconds): within
    /// the reader's latency of the real close.
    public var at: Double
    /// The cgroup id the socket belonged to, where the kernel says (INET_DIAG_CGROUP_ID).
    public var cgroupID: UInt64?
    /// That cgroup's path in the cgroup v2 hierarchy (`/system.slice/nginx.service`),
    /// when it could be found (`CgroupPaths`); nil for the root, which says nothing.
    public var cgroupPath: String?

    /// An event from its parts (tests build these).
    public init(socket: Socket, at: Double, cgroupID: UInt64? = nil, cgroupPath: String? = nil) {
        self.socket = socket
        self.at = at
        self.cgroupID = cgroupID
        self.cgroupPath = cgroupPath
    }
}

/// A NETLINK_SOCK_DIAG socket subscribed to the kernel's socket close events: the
/// multicast groups SKNLGRP_INET{,6}_{TCP,UDP}_DESTROY (include/uapi/linux/sock_diag.h),
/// the stream `ss -E` prints. Joining needs CAP_NET_ADMIN; the groups belong to the
/// network namespace the socket was created in (`open(in:)` makes one inside each of
/// other namespaces). A reader that falls behind gets ENOBUFS: the kernel dropped
/// messages, which `receive` and `drain` report as an overflow.
public final class CloseEventSocket {
    private let fd: Int32
    /// `receive`'s buffer, made on its first call: sockets read through `drain`
    /// share their caller's instead (one per namespace would cost 256 KiB each).
    private var buffer: [UInt8] = []
    /// The receive buffer the kernel granted, in bytes.
    public let receiveBufferBytes: Int
    /// The inode of the network namespace the socket listens in, which every event it
    /// reads carries as `socket.netns`; nil for one opened in the caller's own
    /// namespace, whose events keep `netns` nil (the Recorder takes them as the
    /// snapshot's own namespace's, as it did before namespaces were followed).
    public let netns: UInt64?

    /// The size of the buffer `drain` wants: the largest datagram the kernel sends.
    public static let datagramBufferSize = 256 * 1024

    /// What one `receive` or `drain` call found.
    public struct Outcome: Sendable {
        /// Events decoded.
        public var events = 0
        /// Times the kernel said it dropped events (ENOBUFS) since the last call.
        public var overflows = 0
    }

    /// Subscribes in the caller's network namespace. `receiveBuffer` is forced with
    /// SO_RCVBUFFORCE where permitted (CAP_NET_ADMIN), else asked with SO_RCVBUF.
    public convenience init(receiveBuffer: Int = 32 << 20) throws {
        switch Self.openDescriptor(receiveBuffer: receiveBuffer) {
        case .socket(let fd, _):
            self.init(adopting: fd, netns: nil)
        case .failed(let call, let code):
            throw NetlinkError(operation: call == "socket" ? "socket (close events)" : call, errno: code, sequence: 0)
        }
    }

    /// Takes ownership of `fd`, a socket `openDescriptor` made (perhaps on a thread
    /// inside the namespace `netns`: the socket stays there).
    init(adopting fd: Int32, netns: UInt64?) {
        self.fd = fd
        self.netns = netns
        var granted: Int32 = 0
        var grantedLength = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &granted, &grantedLength)
        receiveBufferBytes = Int(granted)
    }

    /// socket(2), the receive buffer and bind(2) to the close-event groups, in the
    /// calling thread's network namespace; the failing call and errno otherwise.
    static func openDescriptor(receiveBuffer: Int) -> NamespaceEntry.Outcome {
        let fd = socket(AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), NETLINK_SOCK_DIAG)
        guard fd >= 0 else { return .failed(call: "socket", errno: errno) }
        var size = Int32(clamping: receiveBuffer)
        let length = socklen_t(MemoryLayout<Int32>.size)
        if setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, length) != 0 {
            _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, length)
        }
        var address = sockaddr_nl()
        address.nl_family = sa_family_t(AF_NETLINK)
        // Group n is bit n-1 of nl_groups.
        for group in [SKNLGRP_INET_TCP_DESTROY, SKNLGRP_INET_UDP_DESTROY, SKNLGRP_INET6_TCP_DESTROY, SKNLGRP_INET6_UDP_DESTROY] {
            address.nl_groups |= 1 << (UInt32(group.rawValue) - 1)
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_nl>.size)) }
        }
        guard bound == 0 else {
            let code = errno
            close(fd)
            return .failed(call: "bind to the close-event groups", errno: code)
        }
        return .socket(fd)
    }

    deinit { close(fd) }

    /// The descriptor, for poll(2) (`CloseEventPoll`); still the socket's to close.
    var descriptor: Int32 { fd }

    /// Waits up to `timeoutMs` for events, then reads every one queued, calling
    /// `onEvent` for each. Returns what it read and whether the kernel dropped any.
    public func receive(timeoutMs: Int32, onEvent: (CloseEvent) -> Void) throws -> Outcome {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&poller, 1, timeoutMs)
        if ready < 0 {
            if errno == EINTR { return Outcome() }
            throw NetlinkError(operation: "poll (close events)", errno: errno, sequence: 0)
        }
        guard ready > 0 else { return Outcome() }
        if buffer.isEmpty { buffer = [UInt8](repeating: 0, count: Self.datagramBufferSize) }
        return try drain(into: &buffer, onEvent: onEvent)
    }

    /// Reads every event queued now without waiting, into `buffer` (at least
    /// `datagramBufferSize` bytes, shared by the sockets one thread reads), calling
    /// `onEvent` for each. Returns what it read and whether the kernel dropped any.
    public func drain(into buffer: inout [UInt8], onEvent: (CloseEvent) -> Void) throws -> Outcome {
        var outcome = Outcome()
        while true {
            var source = sockaddr_nl()
            var sourceLength = socklen_t(MemoryLayout<sockaddr_nl>.size)
            let received = buffer.withUnsafeMutableBytes { bytes in
                withUnsafeMutablePointer(to: &source) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, bytes.baseAddress, bytes.count, 0, $0, &sourceLength) }
                }
            }
            if received < 0 {
                switch errno {
                case EINTR: continue
                case EAGAIN: return outcome
                case ENOBUFS:
                    // Messages were dropped; the socket stays usable.
                    outcome.overflows += 1
                    continue
                default: throw NetlinkError(operation: "recv (close events)", errno: errno, sequence: 0)
                }
            }
            if received == 0 { return outcome }
            let at = Clock.seconds(milliseconds: Clock.milliseconds(Clock.wallSeconds()))
            // The group the message was sent to says the protocol (bit n-1 for group n).
            let group = source.nl_groups
            let proto: TransportProtocol = group & (1 << (UInt32(SKNLGRP_INET_UDP_DESTROY.rawValue) - 1) | 1 << (UInt32(SKNLGRP_INET6_UDP_DESTROY.rawValue) - 1)) != 0 ? .udp : .tcp
            buffer.withUnsafeBytes { all in
                let datagram = UnsafeRawBufferPointer(rebasing: all[0..<received])
                NetlinkMessage.forEachMessage(in: datagram) { header, body in
                    guard header.type == InetDiag.messageType, var event = Self.decode(body, proto: proto, at: at) else { return true }
                    if let netns { event.socket.netns = netns }
                    outcome.events += 1
                    onEvent(event)
                    return true
                }
            }
        }
    }

    /// A close event's payload: an inet_diag_msg, whose INET_DIAG_PROTOCOL attribute
    /// (when present) names the protocol, and INET_DIAG_CGROUP_ID the cgroup.
    static func decode(_ body: UnsafeRawBufferPointer, proto fallback: TransportProtocol, at: Double) -> CloseEvent? {
        var proto = fallback
        var cgroup: UInt64?
        if body.count > InetDiag.messageSize {
            NetlinkMessage.forEachAttribute(in: UnsafeRawBufferPointer(rebasing: body[InetDiag.messageSize...])) { type, value in
                if UInt32(type) == UInt32(INET_DIAG_PROTOCOL), value.count >= 1 {
                    proto = Int32(value[0]) == IPPROTO_UDP ? .udp : .tcp
                } else if UInt32(type) == UInt32(INET_DIAG_CGROUP_ID), value.count >= 8 {
                    cgroup = value.loadUnaligned(as: UInt64.self)
                }
            }
        }
        guard let socket = InetDiag.decode(body, proto: proto) else { return nil }
        return CloseEvent(socket: socket, at: at, cgroupID: cgroup)
    }
}
