internal import CHttp
import Glibc

/// The server's listening socket. netstatd opens and accepts on it itself, instead of
/// letting libmicrohttpd do so, to choose which connection to close when there are too
/// many (see `AcceptLoop`). It is non-blocking and close-on-exec.
final class ListeningSocket {
    /// The socket.
    let fd: Int32
    /// The port bound (the kernel's choice when 0 was asked for).
    let port: UInt16
    private var isClosed = false

    /// A socket bound to `host`:`port` and listening. Throws with a reason the user can
    /// act on (address in use, privileged port, no such address).
    init(host: String, port: UInt16) throws(HTTPServerError) {
        guard let address = SocketAddress(host: host, port: port) else {
            throw HTTPServerError(description: "cannot listen on \(host): not an IPv4 or IPv6 address (give e.g. 127.0.0.1, 0.0.0.0, ::1 or ::)")
        }
        let place = "\(host):\(port)"
        let fd = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else {
            throw HTTPServerError(description: "cannot listen on \(place): socket(): \(errorText(errno))")
        }
        var one: Int32 = 1
        let size = socklen_t(MemoryLayout<Int32>.size)
        // SO_REUSEADDR lets a restarted netstatd bind while its old connections sit in
        // TIME_WAIT; without SO_REUSEPORT a second netstatd still gets EADDRINUSE.
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, size)
        // `::` serves IPv6 only, as libmicrohttpd's own listener did (MHD_USE_IPv6
        // without MHD_USE_DUAL_STACK); 0.0.0.0 is a separate --listen.
        if address.family == AF_INET6 { setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, size) }
        let bound = address.withSockaddr { bind(fd, $0, $1) }
        guard bound == 0 else {
            let code = errno
            Glibc.close(fd)
            throw Self.bindError(code, place: place)
        }
        guard listen(fd, SOMAXCONN) == 0 else {
            let code = errno
            Glibc.close(fd)
            throw HTTPServerError(description: "cannot listen on \(place): listen(): \(errorText(code))")
        }
        var local = SocketAddress()
        let named = local.withMutableSockaddr { getsockname(fd, $0, $1) }
        self.fd = fd
        self.port = named == 0 && local.port != 0 ? local.port : port
    }

    deinit { close() }

    /// Closes the socket; later calls do nothing.
    func close() {
        guard !isClosed else { return }
        isClosed = true
        _ = Glibc.close(fd)
    }

    private static func bindError(_ code: Int32, place: String) -> HTTPServerError {
        switch code {
        case EADDRINUSE:
            HTTPServerError(description: "cannot listen on \(place): address already in use (another netstatd?); pass --listen with another port")
        case EACCES:
            HTTPServerError(description: "cannot listen on \(place): permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)")
        case EADDRNOTAVAIL:
            HTTPServerError(description: "cannot listen on \(place): no interface has that address")
        default:
            HTTPServerError(description: "cannot listen on \(place): \(errorText(code))")
        }
    }
}
