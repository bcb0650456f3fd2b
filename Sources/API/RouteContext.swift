public import HTTP
public import Sampling
public import Service

/// What a route handler is given: the request, its path parameters and query, and
/// the live view to answer from.
public struct RouteContext: Sendable {
    /// The HTTP request.
    public var request: HTTPRequest
    /// Path parameters by name (`port` of `/api/v1/ports/{port}`).
    public var parameters: [String: String]
    /// The query string.
    public var query: QueryParameters
    /// The latest snapshots.
    public var live: LiveView
    /// The API's settings.
    public var configuration: APIConfiguration
    /// When the server started (monotonic seconds), for uptime.
    public var startedAt: Double
    /// The history file, when one is recorded.
    public var history: HistoryAccess?
    /// Protocol counters.
    public var stats: StatsView
    /// The proc tree read (for routes and interfaces).
    public var procRoot: String

    /// The snapshot this request should describe: at most `maxSnapshotAge` old.
    public func snapshot() -> Snapshot {
        live.current(maxAge: configuration.maxSnapshotAge)
    }

    /// The sockets of `snapshot` passing `filter`, using the snapshot's port index.
    /// Throws a 404 for a `netns=` the snapshot does not know.
    public func matching(_ filter: ConnectionFilter, in snapshot: Snapshot) throws -> [Int] {
        _ = try filter.namespaceInodes(in: snapshot)
        let index = (filter.port ?? filter.localPort ?? filter.remotePort) == nil ? nil : live.portIndex(for: snapshot)
        return filter.matchingIndices(in: snapshot, portIndex: index)
    }

    /// The `{port}` path parameter: 1 to 65535, else a 400 saying so.
    public func portParameter() throws -> UInt16 {
        let text = parameters["port"] ?? ""
        guard let number = Int(text), (1...65535).contains(number) else {
            throw Problem.badParameter("port", text, accepts: "a port number from 1 to 65535")
        }
        return UInt16(number)
    }

    /// The format asked for by `format=` or `Accept`.
    public func format() throws -> OutputFormat {
        try OutputFormat.negotiate(query: query, accept: request.header("Accept"))
    }
}

/// A route handler: answers or throws a `Problem`.
public typealias RouteHandler = @Sendable (RouteContext) throws -> HTTPResponse
