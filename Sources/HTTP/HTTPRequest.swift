/// One HTTP request as a handler sees it: method, path, decoded query, headers.
public struct HTTPRequest: Sendable {
    /// The method (`GET`, `HEAD`, ...).
    public var method: String
    /// The path without the query string, as sent (libmicrohttpd has already unescaped it).
    public var path: String
    /// Query parameters in the order sent, decoded; a name may repeat, and `?flag`
    /// without `=` has an empty value.
    public var query: [(name: String, value: String)]
    /// Request headers (names as sent); look up with `header(_:)`.
    public var headers: [(name: String, value: String)]
    /// The peer's address as text (`127.0.0.1`, `::1`).
    public var remoteAddress: String
    /// The request body (empty for GET).
    public var body: [UInt8]

    /// A request from its parts (tests build these directly for in-process routing).
    public init(
        method: String, path: String, query: [(name: String, value: String)] = [],
        headers: [(name: String, value: String)] = [], remoteAddress: String = "127.0.0.1", body: [UInt8] = []
    ) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.remoteAddress = remoteAddress
        self.body = body
    }

    /// The first value of header `name`, compared case-insensitively.
    public func header(_ name: String) -> String? {
        let wanted = name.lowercased()
        return headers.first { $0.name.lowercased() == wanted }?.value
    }
}
