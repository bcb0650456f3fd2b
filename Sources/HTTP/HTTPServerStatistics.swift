/// What the server has done with connections since it started, for /metrics.
public struct HTTPServerStatistics: Sendable, Equatable {
    /// Connections accepted.
    public var accepted = 0
    /// Connections closed to make room for a newer one when the total or per-client
    /// connection limit was reached.
    public var evicted = 0
    /// Connections closed because they had not delivered a complete request's headers
    /// within `HTTPServerConfiguration.headerDeadlineSeconds`.
    public var expired = 0
    /// Connections turned away on arrival because no room could be made (every open
    /// connection was being answered).
    public var refused = 0
    /// Connections open now.
    public var open = 0

    /// All zero.
    public init() {}
}
