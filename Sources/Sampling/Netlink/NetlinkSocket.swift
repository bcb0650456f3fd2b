import Glibc
internal import CNetlink

/// The buffer replies are received into, handed to each dump: the sockets of one
/// Collector (one per network namespace) share a few, one per thread dumping at
/// once, instead of holding 64 KiB each.
final class NetlinkReceiveBuffer {
    /// Large enough that the kernel can fill each datagram fully (it sizes dump skbs
    /// from the receiver's buffer, up to 32 KiB, see net/netlink/af_netlink.c).
    var bytes = [UInt8](repeating: 0, count: 64 * 1024)
}

/// A NETLINK_SOCK_DIAG socket: sends one dump request and hands back the reply
/// messages. Owns its file descriptor and closes it in deinit.
final class NetlinkSocket {
    private let fd: Int32
    private var sequence: UInt32 = 0

    /// Opens a sock_diag netlink socket in the caller's network namespace.
    convenience init() throws {
        let fd = Self.openSockDiag()
        guard fd >= 0 else { throw NetlinkError(operation: "socket", errno: errno, sequence: 0) }
        self.init(adopting: fd)
    }

    /// Takes ownership of `fd`, a NETLINK_SOCK_DIAG socket opened by `openSockDiag`
    /// (perhaps on a thread inside another network namespace: the socket stays there).
    init(adopting fd: Int32) {
        self.fd = fd
        var size: Int32 = 1 << 20
        // SO_RCVBUFFORCE passes net.core.rmem_max but needs CAP_NET_ADMIN (socket(7)).
        if setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, socklen_t(MemoryLayout<Int32>.size)) != 0 {
            _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
    }

    /// The cookie of the network namespace the socket is in (SO_NETNS_COOKIE), nil
    /// on kernels before 5.14.
    func namespaceCookie() -> UInt64? {
        var cookie: UInt64 = 0
        var size = socklen_t(MemoryLayout<UInt64>.size)
        guard getsockopt(fd, SOL_SOCKET, NETSTATD_SO_NETNS_COOKIE, &cookie, &size) == 0,
              size == socklen_t(MemoryLayout<UInt64>.size) else { return nil }
        return cookie
    }

    /// socket(2) for NETLINK_SOCK_DIAG in the calling thread's network namespace;
    /// -1 with errno set on failure.
    static func openSockDiag() -> Int32 {
        socket(AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), NETLINK_SOCK_DIAG)
    }

    deinit { close(fd) }

    /// Sends `payload` as a dump request of `type` and calls `onMessage` with the payload
    /// of every reply message until NLMSG_DONE, receiving into `receive` (no other
    /// thread may use it meanwhile). An NLMSG_ERROR reply is thrown. Returns true when
    /// the kernel flagged the dump interrupted (NLM_F_DUMP_INTR): the caller dumps again.
    @discardableResult
    func dump(
        type: UInt16, payload: [UInt8], what: String, buffer receive: NetlinkReceiveBuffer,
        onMessage: (UnsafeRawBufferPointer) -> Void
    ) throws -> Bool {
        sequence &+= 1
        let seq = sequence
        var request: [UInt8] = []
        request.reserveCapacity(NetlinkMessage.headerSize + payload.count)
        NetlinkMessage.appendHeader(
            to: &request, payloadLength: payload.count, type: type,
            flags: NetlinkMessage.Constants.requestDump, sequence: seq)
        request.append(contentsOf: payload)

        // send(2) without an address goes to the kernel (port 0) on an unconnected
        // netlink socket; retried when a signal interrupts it.
        var sent = -1
        repeat {
            sent = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        } while sent < 0 && errno == EINTR
        guard sent == request.count else {
            throw NetlinkError(operation: "send \(what)", errno: errno, sequence: seq)
        }
        var interrupted = false

        while true {
            let received = receive.bytes.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if received < 0 {
                if errno == EINTR { continue }
                throw NetlinkError(operation: "recv \(what)", errno: errno, sequence: seq)
            }
            if received == 0 { return interrupted }
            var finished = false
            var failure: Int32 = 0
            receive.bytes.withUnsafeBytes { all in
                let datagram = UnsafeRawBufferPointer(rebasing: all[0..<received])
                NetlinkMessage.forEachMessage(in: datagram) { header, body in
                    guard header.sequence == seq else { return true }  // a stale reply
                    if header.flags & NetlinkMessage.Constants.dumpInterrupted != 0 { interrupted = true }
                    switch header.type {
                    case NetlinkMessage.Constants.done:
                        finished = true
                        return false
                    case NetlinkMessage.Constants.error:
                        // struct nlmsgerr starts with a negative errno; 0 is an ack.
                        let code = body.count >= 4 ? body.loadUnaligned(as: Int32.self) : -EIO
                        if code != 0 { failure = -code }
                        finished = true
                        return false
                    default:
                        onMessage(body)
                        return true
                    }
                }
            }
            if failure != 0 { throw NetlinkError(operation: "dump \(what)", errno: failure, sequence: seq) }
            if finished { return interrupted }
        }
    }
}
