/// How the server listens and what it tolerates.
public struct HTTPServerConfiguration: Sendable {
    /// Address to bind: an IPv4 or IPv6 literal.
    public var host = "127.0.0.1"
    /// Port; 0 picks a free one (read it back from `HTTPServer.port`).
    public var port: UInt16 = 7878
    /// Threads in libmicrohttpd's pool; each answers requests on its own.
    public var threads = 4
    /// Connections open at once, in all. When a new one arrives at the limit, the
    /// connection that has waited longest without a complete request is closed to make
    /// room; the newcomer is turned away only if every connection is being answered.
    public var connectionLimit = 512
    /// Connections open at once from one client address (0: no limit). At the limit,
    /// that client's connection that has waited longest without a complete request is
    /// closed to make room, so one client cannot lock itself or others out.
    public var perClientLimit = 128
    /// Seconds a connection has to deliver a complete request's headers, counted from
    /// when it began waiting for a request (accept, or the end of the previous response
    /// on a keep-alive connection). Unlike `idleTimeoutSeconds`, bytes trickling in do
    /// not extend it, so a slow client cannot hold a connection; it also bounds how
    /// long an idle keep-alive connection is kept.
    public var headerDeadlineSeconds = 10.0
    /// Seconds a connection may go without a byte either way before it is closed
    /// (bounds slow request bodies and clients that stop reading a response).
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
