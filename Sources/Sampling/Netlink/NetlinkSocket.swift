import Glibc
internal import CNetlink

/// A NETLINK_SOCK_DIAG socket: sends one dump request and hands back the reply
/// messages. Owns its file descriptor and closes it in deinit.
final class NetlinkSocket {
    private let fd: Int32
    private var sequence: UInt32 = 0
    /// Large enough that the kernel can fill each datagram fully (it sizes dump skbs
    /// from the receiver's buffer, up to 32 KiB, see net/netlink/af_netlink.c).
    private var buffer = [UInt8](repeating: 0, count: 64 * 1024)

    /// Opens a sock_diag netlink socket in the caller's network namespace.
    init() throws {
        let fd = socket(AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), NETLINK_SOCK_DIAG)
        guard fd >= 0 else { throw NetlinkError(operation: "socket", errno: errno, sequence: 0) }
        self.fd = fd
        var size: Int32 = 1 << 20
        // SO_RCVBUFFORCE passes net.core.rmem_max but needs CAP_NET_ADMIN (socket(7)).
        if setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, socklen_t(MemoryLayout<Int32>.size)) != 0 {
            _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
    }

    deinit { close(fd) }

    /// Sends `payload` as a dump request of `type` and calls `onMessage` with the payload
    /// of every reply message until NLMSG_DONE. An NLMSG_ERROR reply is thrown.
    func dump(
        type: UInt16, payload: [UInt8], what: String,
        onMessage: (UnsafeRawBufferPointer) -> Void
    ) throws {
        sequence &+= 1
        let seq = sequence
        var request: [UInt8] = []
        request.reserveCapacity(NetlinkMessage.headerSize + payload.count)
        NetlinkMessage.appendHeader(
            to: &request, payloadLength: payload.count, type: type,
            flags: NetlinkMessage.Constants.requestDump, sequence: seq)
        request.append(contentsOf: payload)

        var kernel = sockaddr_nl()
        kernel.nl_family = sa_family_t(AF_NETLINK)
        let sent = request.withUnsafeBytes { bytes in
            withUnsafePointer(to: &kernel) { addr in
                addr.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, bytes.baseAddress, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_nl>.size))
                }
            }
        }
        guard sent == request.count else {
            throw NetlinkError(operation: "sendto \(what)", errno: errno, sequence: seq)
        }

        while true {
            let received = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if received < 0 {
                if errno == EINTR { continue }
                throw NetlinkError(operation: "recv \(what)", errno: errno, sequence: seq)
            }
            if received == 0 { return }
            var finished = false
            var failure: Int32 = 0
            buffer.withUnsafeBytes { all in
                let datagram = UnsafeRawBufferPointer(rebasing: all[0..<received])
                NetlinkMessage.forEachMessage(in: datagram) { header, body in
                    guard header.sequence == seq else { return true }  // a stale reply
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
            if finished { return }
        }
    }
}
