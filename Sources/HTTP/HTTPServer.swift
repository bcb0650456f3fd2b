internal import CHttp
import Glibc

/// An HTTP server on libmicrohttpd's own thread pool. Requests are answered by one
/// synchronous handler on the pool thread that read them; the handler must not block
/// for long (netstatd's read the latest immutable snapshot).
///
/// Connections are accepted by netstatd's `AcceptLoop`, not by libmicrohttpd, so that
/// slow clients cannot starve the others: each connection has a deadline for a
/// request's headers, and at a connection limit the connection that has waited longest
/// without a complete request makes room for the newcomer.
public final class HTTPServer: @unchecked Sendable {
    // @unchecked: `daemon`, `acceptLoop` and `boundPort` are written in start()/stop()
    // only, which the owner calls from one thread; pool threads read only the immutable
    // `handler`, `configuration` and `tracker` (which locks).
    private let configuration: HTTPServerConfiguration
    fileprivate let handler: @Sendable (HTTPRequest) -> HTTPResponse
    fileprivate let tracker: ConnectionTracker
    private var daemon: OpaquePointer?
    private var acceptLoop: AcceptLoop?
    private var boundPort: UInt16 = 0

    /// A server that will answer every request with `handler` once started.
    public init(configuration: HTTPServerConfiguration, handler: @escaping @Sendable (HTTPRequest) -> HTTPResponse) {
        self.configuration = configuration
        self.handler = handler
        tracker = ConnectionTracker(limits: ConnectionTable.Limits(
            total: min(max(1, configuration.connectionLimit), 1_000_000),
            perClient: min(max(0, configuration.perClientLimit), 1_000_000),
            headerDeadline: .milliseconds(Int64(min(max(0.001, configuration.headerDeadlineSeconds), 86_400) * 1000))))
    }

    deinit { stop() }

    /// The port actually listened on (useful with port 0).
    public var port: UInt16 { boundPort }

    /// What the server has done with connections so far.
    public func statistics() -> HTTPServerStatistics { tracker.statistics() }

    /// Binds and starts answering. Throws with a reason the user can act on.
    public func start() throws {
        guard daemon == nil else { return }
        let listener = try ListeningSocket(host: configuration.host, port: configuration.port)
        var flags = UInt32(MHD_USE_INTERNAL_POLLING_THREAD.rawValue) | UInt32(MHD_USE_EPOLL.rawValue)
            | UInt32(MHD_USE_NO_LISTEN_SOCKET.rawValue) | UInt32(MHD_USE_ITC.rawValue)
        let tls = configuration.tlsCertificatePEM != nil && configuration.tlsKeyPEM != nil
        if tls {
            guard MHD_is_feature_supported(MHD_FEATURE.FEATURE_TLS) == MHD_Result.YES else {
                throw HTTPServerError(description: "this libmicrohttpd was built without TLS; install Debian's libmicrohttpd12 (GnuTLS) or drop --tls-cert/--tls-key")
            }
            flags |= UInt32(MHD_USE_TLS.rawValue)
        }
        let threads = max(1, configuration.threads)
        // libmicrohttpd splits its limit evenly over the pool and refuses (closing the
        // socket without telling) when the thread it picks is full. Each thread may
        // hold everything netstatd admits, plus a margin for sockets it has reported
        // closed but not yet counted off, so it never refuses first.
        let perThread = tracker.limits.held + 64
        let context = Unmanaged.passUnretained(self).toOpaque()
        let trackerContext = Unmanaged.passUnretained(tracker).toOpaque()
        let started: OpaquePointer? = withOptionalCString(configuration.tlsCertificatePEM) { cert in
            withOptionalCString(configuration.tlsKeyPEM) { key in
                var config = netstatd_mhd_config(
                    flags: flags, handler: accessHandler, handler_cls: context,
                    completed: completedHandler, completed_cls: trackerContext,
                    notify_connection: connectionNotification, notify_connection_cls: trackerContext,
                    threads: UInt32(threads),
                    connection_limit: UInt32(clamping: perThread * threads),
                    timeout_seconds: UInt32(clamping: max(0, configuration.idleTimeoutSeconds)),
                    memory_limit: configuration.requestMemoryLimit,
                    tls_cert: cert, tls_key: key)
                return netstatd_mhd_start(&config)
            }
        }
        guard let started else {
            throw HTTPServerError(description: "libmicrohttpd could not start on \(configuration.host):\(configuration.port)" + (tls ? " (is the TLS certificate and key valid PEM, and do they match?)" : ""))
        }
        do {
            let loop = try AcceptLoop(listener: listener, daemon: started, tracker: tracker)
            try loop.start()
            acceptLoop = loop
        } catch {
            MHD_stop_daemon(started)
            throw error
        }
        daemon = started
        boundPort = listener.port
    }

    /// Stops accepting, closes the listening socket and every connection; returns when
    /// the accept thread and the pool have stopped.
    public func stop() {
        acceptLoop?.stop()
        acceptLoop = nil
        guard let daemon else { return }
        MHD_stop_daemon(daemon)
        self.daemon = nil
        tracker.removeAll()
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
        request.remoteAddress = SocketAddress.host(of: netstatd_mhd_client_address(connection))
        request.body = body
        var response = handler(request)
        if let notModified = ConditionalRequest.notModified(response, for: request) {
            return queue(notModified, on: connection)
        }
        if response.body.count >= Gzip.minimumSize, response.header("Content-Encoding") == nil,
           Gzip.accepted(by: request.header("Accept-Encoding")), let compressed = Gzip.compress(response.body) {
            response.body = compressed
            response.setHeader("Content-Encoding", "gzip")
            response.setHeader("Vary", [response.header("Vary"), "Accept-Encoding"].compactMap { $0 }.joined(separator: ", "))
            // The compressed bytes differ from those the tag named: only a weak tag
            // still holds for them (RFC 9110 §8.8.1).
            if let etag = response.header("ETag"), !etag.hasPrefix("W/") { response.setHeader("ETag", "W/" + etag) }
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
}

/// Query or header pairs gathered by `collectValue`.
private struct KeyValues {
    var items: [(name: String, value: String)] = []
}

/// One request between the access handler's first call and the completion callback,
/// kept in `*con_cls`: its connection's socket, and the body as it arrives.
private final class PendingRequest {
    let fd: Int32
    var body: [UInt8] = []
    var tooLarge = false

    init(fd: Int32) {
        self.fd = fd
    }
}

private let collectValue: MHD_KeyValueIterator = { context, _, key, value in
    guard let context, let key else { return MHD_Result.YES }
    let values = context.assumingMemoryBound(to: KeyValues.self)
    values.pointee.items.append((String(cString: key), value.map { String(cString: $0) } ?? ""))
    return MHD_Result.YES
}

// libmicrohttpd calls this first when a request's headers are in, then once per piece
// of body, then once with no data when the request is complete. A response queued
// before that last call makes it close the connection (Connection: close), so the first
// call only sets up and every response is queued on the last.
// https://www.gnu.org/software/libmicrohttpd/manual/html_node/microhttpd_002dcb.html
private let accessHandler: MHD_AccessHandlerCallback = { context, connection, url, method, _, uploadData, uploadSize, state in
    guard let context, let connection, let url, let method, let uploadSize, let state else { return MHD_Result.NO }
    let server = Unmanaged<HTTPServer>.fromOpaque(context).takeUnretainedValue()
    guard let existing = state.pointee else {
        let fd = netstatd_mhd_connection_fd(connection)
        server.tracker.headersComplete(fd)
        // Released by completedHandler, however the request ends.
        state.pointee = Unmanaged.passRetained(PendingRequest(fd: fd)).toOpaque()
        return MHD_Result.YES
    }
    let pending = Unmanaged<PendingRequest>.fromOpaque(existing).takeUnretainedValue()
    if uploadSize.pointee > 0 {
        if let uploadData, !pending.tooLarge, pending.body.count + uploadSize.pointee <= server.maxBodyBytes {
            pending.body.append(contentsOf: UnsafeRawBufferPointer(start: uploadData, count: uploadSize.pointee))
        } else {
            pending.tooLarge = true
            pending.body = []
        }
        uploadSize.pointee = 0
        return MHD_Result.YES
    }
    server.tracker.answering(pending.fd)
    if pending.tooLarge {
        let body = Array("{\"type\":\"about:blank\",\"title\":\"Request body too large\",\"status\":413,\"detail\":\"The body exceeds \(server.maxBodyBytes) bytes.\"}".utf8)
        return server.queue(HTTPResponse(status: 413, contentType: "application/problem+json", body: body), on: connection)
    }
    return server.respond(connection, url: String(cString: url), method: String(cString: method), body: pending.body)
}

// Called once per request that reached accessHandler, when its response has been sent
// or the connection has ended: the one place its PendingRequest is released.
private let completedHandler: MHD_RequestCompletedCallback = { context, _, state, _ in
    guard let context, let state, let existing = state.pointee else { return }
    state.pointee = nil
    let pending = Unmanaged<PendingRequest>.fromOpaque(existing).takeRetainedValue()
    Unmanaged<ConnectionTracker>.fromOpaque(context).takeUnretainedValue().waiting(pending.fd)
}

private let connectionNotification: MHD_NotifyConnectionCallback = { context, connection, _, code in
    guard let context, let connection, code == MHD_ConnectionNotificationCode.CONNECTION_NOTIFY_CLOSED else { return }
    Unmanaged<ConnectionTracker>.fromOpaque(context).takeUnretainedValue().closed(netstatd_mhd_connection_fd(connection))
}

private func withOptionalCString<R>(_ text: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
    guard let text else { return body(nil) }
    return text.withCString { body($0) }
}
