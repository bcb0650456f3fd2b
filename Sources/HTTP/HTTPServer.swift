internal import CHttp
import Glibc

/// How the server listens and what it tolerates.
public struct HTTPServerConfiguration: Sendable {
    /// Address to bind: an IPv4 or IPv6 literal.
    public var host = "127.0.0.1"
    /// Port; 0 picks a free one (read it back from `HTTPServer.port`).
    public var port: UInt16 = 7878
    /// Threads in libmicrohttpd's pool; each answers requests on its own.
    public var threads = 4
    /// Connections open at once, in all.
    public var connectionLimit = 512
    /// Connections open at once from one client address.
    public var perClientLimit = 128
    /// Seconds a connection may stay idle before it is closed.
    public var idleTimeoutSeconds = 15
    /// Memory per connection for the request line and headers: larger requests are
    /// refused by libmicrohttpd (414/431) before any handler runs.
    public var requestMemoryLimit = 64 * 1024
    /// Largest request body accepted (413 beyond).
    public var maxBodyBytes = 1 << 20
    /// PEM certificate and key: with both, the server speaks HTTPS only.
    public var tlsCertificatePEM: String?
    /// PEM private key matching `tlsCertificatePEM`.
    public var tlsKeyPEM: String?

    /// The defaults above.
    public init() {}
}

/// Why the server could not start, said so that the user knows what to change.
public struct HTTPServerError: Error, CustomStringConvertible, Sendable {
    /// The message.
    public let description: String
}

/// An HTTP server on libmicrohttpd's own thread pool. Requests are answered by one
/// synchronous handler on the pool thread that read them; the handler must not block
/// for long (netstatd's read the latest immutable snapshot).
public final class HTTPServer: @unchecked Sendable {
    // @unchecked: `daemon` is written in start()/stop() only, which the owner calls
    // from one thread; pool threads read only the immutable `handler` and `configuration`.
    private let configuration: HTTPServerConfiguration
    fileprivate let handler: @Sendable (HTTPRequest) -> HTTPResponse
    private var daemon: OpaquePointer?
    private var boundPort: UInt16 = 0

    /// A server that will answer every request with `handler` once started.
    public init(configuration: HTTPServerConfiguration, handler: @escaping @Sendable (HTTPRequest) -> HTTPResponse) {
        self.configuration = configuration
        self.handler = handler
    }

    deinit { stop() }

    /// The port actually listened on (useful with port 0).
    public var port: UInt16 { boundPort }

    /// Binds and starts answering. Throws with a reason the user can act on.
    public func start() throws {
        guard daemon == nil else { return }
        var storage = sockaddr_storage()
        let isIPv6: Bool
        var length: Int
        if let v4 = IPv4Address(configuration.host) {
            isIPv6 = false
            length = MemoryLayout<sockaddr_in>.size
            withUnsafeMutableBytes(of: &storage) { raw in
                var address = sockaddr_in()
                address.sin_family = sa_family_t(AF_INET)
                address.sin_port = configuration.port.bigEndian
                address.sin_addr = v4.address
                raw.storeBytes(of: address, as: sockaddr_in.self)
            }
        } else if let v6 = IPv6Address(configuration.host) {
            isIPv6 = true
            length = MemoryLayout<sockaddr_in6>.size
            withUnsafeMutableBytes(of: &storage) { raw in
                var address = sockaddr_in6()
                address.sin6_family = sa_family_t(AF_INET6)
                address.sin6_port = configuration.port.bigEndian
                address.sin6_addr = v6.address
                raw.storeBytes(of: address, as: sockaddr_in6.self)
            }
        } else {
            throw HTTPServerError(description: "cannot listen on \(configuration.host): not an IPv4 or IPv6 address (give e.g. 127.0.0.1, 0.0.0.0, ::1 or ::)")
        }
        try checkBindable(&storage, length: length, ipv6: isIPv6)

        var flags = UInt32(MHD_USE_INTERNAL_POLLING_THREAD.rawValue) | UInt32(MHD_USE_EPOLL.rawValue)
        if isIPv6 { flags |= UInt32(MHD_USE_IPv6.rawValue) }
        let tls = configuration.tlsCertificatePEM != nil && configuration.tlsKeyPEM != nil
        if tls {
            guard MHD_is_feature_supported(MHD_FEATURE.FEATURE_TLS) == MHD_Result.YES else {
                throw HTTPServerError(description: "this libmicrohttpd was built without TLS; install Debian's libmicrohttpd12 (GnuTLS) or drop --tls-cert/--tls-key")
            }
            flags |= UInt32(MHD_USE_TLS.rawValue)
        }
        let context = Unmanaged.passUnretained(self).toOpaque()
        let started: OpaquePointer? = withUnsafePointer(to: &storage) { addressPointer in
            addressPointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                withOptionalCString(configuration.tlsCertificatePEM) { cert in
                    withOptionalCString(configuration.tlsKeyPEM) { key in
                        var config = netstatd_mhd_config(
                            flags: flags, address: address, handler: accessHandler, handler_cls: context,
                            completed: completedHandler, completed_cls: context,
                            threads: UInt32(max(1, configuration.threads)),
                            connection_limit: UInt32(configuration.connectionLimit),
                            per_ip_limit: UInt32(configuration.perClientLimit),
                            timeout_seconds: UInt32(configuration.idleTimeoutSeconds),
                            memory_limit: configuration.requestMemoryLimit,
                            tls_cert: cert, tls_key: key)
                        return netstatd_mhd_start(&config)
                    }
                }
            }
        }
        guard let started else {
            throw HTTPServerError(description: "libmicrohttpd could not start on \(configuration.host):\(configuration.port)" + (tls ? " (is the TLS certificate and key valid PEM, and do they match?)" : ""))
        }
        daemon = started
        boundPort = netstatd_mhd_bound_port(started)
        if boundPort == 0 { boundPort = configuration.port }
    }

    /// Stops accepting and closes every connection; returns when the pool has stopped.
    public func stop() {
        guard let daemon else { return }
        MHD_stop_daemon(daemon)
        self.daemon = nil
    }

    /// Binds a throwaway socket first: libmicrohttpd only says "failed", this says why.
    private func checkBindable(_ storage: inout sockaddr_storage, length: Int, ipv6: Bool) throws {
        let fd = socket(ipv6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let result = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(length)) }
        }
        guard result != 0 else { return }
        let code = errno
        let place = "\(configuration.host):\(configuration.port)"
        switch code {
        case EADDRINUSE:
            throw HTTPServerError(description: "cannot listen on \(place): address already in use (another netstatd?); pass --listen with another port")
        case EACCES:
            throw HTTPServerError(description: "cannot listen on \(place): permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)")
        case EADDRNOTAVAIL:
            throw HTTPServerError(description: "cannot listen on \(place): no interface has that address")
        default:
            throw HTTPServerError(description: "cannot listen on \(place): \(String(cString: strerror(code)))")
        }
    }

    /// Answers one request; never throws or traps (the handler's own errors are its to turn into responses).
    fileprivate func respond(
        _ connection: OpaquePointer, url: String, method: String, body: [UInt8]
    ) -> MHD_Result {
        var request = HTTPRequest(method: method, path: url)
        var collected = KeyValues()
        withUnsafeMutablePointer(to: &collected) { pointer in
            _ = MHD_get_connection_values(connection, MHD_ValueKind.GET_ARGUMENT_KIND, collectValue, pointer)
        }
        request.query = collected.items
        collected.items.removeAll()
        withUnsafeMutablePointer(to: &collected) { pointer in
            _ = MHD_get_connection_values(connection, MHD_ValueKind.HEADER_KIND, collectValue, pointer)
        }
        request.headers = collected.items
        request.remoteAddress = Self.addressText(netstatd_mhd_client_address(connection))
        request.body = body
        var response = handler(request)
        if response.body.count >= Gzip.minimumSize, response.header("Content-Encoding") == nil,
           Gzip.accepted(by: request.header("Accept-Encoding")), let compressed = Gzip.compress(response.body) {
            response.body = compressed
            response.setHeader("Content-Encoding", "gzip")
            response.setHeader("Vary", [response.header("Vary"), "Accept-Encoding"].compactMap { $0 }.joined(separator: ", "))
        }
        return queue(response, on: connection)
    }

    fileprivate func queue(_ response: HTTPResponse, on connection: OpaquePointer) -> MHD_Result {
        let made = response.body.withUnsafeBytes { bytes in
            MHD_create_response_from_buffer(bytes.count, UnsafeMutableRawPointer(mutating: bytes.baseAddress), MHD_ResponseMemoryMode.RESPMEM_MUST_COPY)
        }
        guard let made else { return MHD_Result.NO }
        for (name, value) in response.headers {
            // A header with a newline would split the response; such values are dropped.
            if value.contains(where: { $0 == "\r" || $0 == "\n" }) { continue }
            _ = MHD_add_response_header(made, name, value)
        }
        let result = MHD_queue_response(connection, UInt32(response.status), made)
        MHD_destroy_response(made)
        return result
    }

    fileprivate var maxBodyBytes: Int { configuration.maxBodyBytes }

    private static func addressText(_ address: UnsafePointer<sockaddr>?) -> String {
        guard let address else { return "" }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        switch Int32(address.pointee.sa_family) {
        case AF_INET:
            var v4 = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
            inet_ntop(AF_INET, &v4, &text, socklen_t(text.count))
        case AF_INET6:
            var v6 = address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
            inet_ntop(AF_INET6, &v6, &text, socklen_t(text.count))
        default:
            return ""
        }
        return text.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }
}

/// Query or header pairs gathered by `collectValue`.
private struct KeyValues {
    var items: [(name: String, value: String)] = []
}

/// A request body being received, kept in `*con_cls` between calls.
private final class PendingBody {
    var bytes: [UInt8] = []
    var tooLarge = false
}

private let collectValue: MHD_KeyValueIterator = { context, _, key, value in
    guard let context, let key else { return MHD_Result.YES }
    let values = context.assumingMemoryBound(to: KeyValues.self)
    values.pointee.items.append((String(cString: key), value.map { String(cString: $0) } ?? ""))
    return MHD_Result.YES
}

private let accessHandler: MHD_AccessHandlerCallback = { context, connection, url, method, _, uploadData, uploadSize, state in
    guard let context, let connection, let url, let method, let uploadSize, let state else { return MHD_Result.NO }
    let server = Unmanaged<HTTPServer>.fromOpaque(context).takeUnretainedValue()
    let methodText = String(cString: method)
    let path = String(cString: url)
    if methodText == "GET" || methodText == "HEAD" || methodText == "OPTIONS" || methodText == "DELETE" {
        return server.respond(connection, url: path, method: methodText, body: [])
    }
    // Methods with a body: the first call only sets up, later calls carry data, and
    // the last call (size 0) answers.
    guard let existing = state.pointee else {
        state.pointee = Unmanaged.passRetained(PendingBody()).toOpaque()
        return MHD_Result.YES
    }
    let pending = Unmanaged<PendingBody>.fromOpaque(existing).takeUnretainedValue()
    if uploadSize.pointee > 0 {
        if let uploadData, pending.bytes.count + uploadSize.pointee <= server.maxBodyBytes {
            pending.bytes.append(contentsOf: UnsafeRawBufferPointer(start: uploadData, count: uploadSize.pointee))
        } else {
            pending.tooLarge = true
        }
        uploadSize.pointee = 0
        return MHD_Result.YES
    }
    if pending.tooLarge {
        let body = Array("{\"type\":\"about:blank\",\"title\":\"Request body too large\",\"status\":413,\"detail\":\"The body exceeds \(server.maxBodyBytes) bytes.\"}".utf8)
        return server.queue(HTTPResponse(status: 413, contentType: "application/problem+json", body: body), on: connection)
    }
    return server.respond(connection, url: path, method: methodText, body: pending.bytes)
}

private let completedHandler: MHD_RequestCompletedCallback = { _, _, state, _ in
    guard let state, let pending = state.pointee else { return }
    Unmanaged<PendingBody>.fromOpaque(pending).release()
    state.pointee = nil
}

private func withOptionalCString<R>(_ text: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
    guard let text else { return body(nil) }
    return text.withCString { body($0) }
}

/// An IPv4 literal parsed with inet_pton.
struct IPv4Address {
    var address = in_addr()
    init?(_ text: String) {
        guard inet_pton(AF_INET, text, &address) == 1 else { return nil }
    }
}

/// An IPv6 literal parsed with inet_pton (brackets allowed).
struct IPv6Address {
    var address = in6_addr()
    init?(_ text: String) {
        var bare = text
        if bare.hasPrefix("[") && bare.hasSuffix("]") { bare = String(bare.dropFirst().dropLast()) }
        guard inet_pton(AF_INET6, bare, &address) == 1 else { return nil }
    }
}
