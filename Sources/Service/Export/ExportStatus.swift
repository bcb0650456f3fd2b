/// How one export (`--export-url`) is doing, for /api/v1/status and /metrics.
public struct ExportStatus: Sendable {
    /// The receiver's URL with any password replaced by `***`.
    public var url: String
    /// When the receiver last acknowledged a batch (wall seconds; kept in the history
    /// file, so it survives restarts); nil when it never has.
    public var lastSuccess: Double?
    /// Failed attempts since the last success (0 while all is well).
    public var consecutiveFailures = 0
    /// Failed attempts since start.
    public var failures = 0
    /// Why the last attempt failed; nil once one succeeds again.
    public var lastError: String?
    /// Events recorded and not yet acknowledged; nil when there are too many to
    /// count cheaply (more than `EventExporter.backlogCountLimit`) or not yet known.
    public var backlog: Int?
    /// Events the receiver acknowledged since start.
    public var eventsSent = 0
    /// Batches the receiver acknowledged since start.
    public var batchesSent = 0

    public init(url: String) {
        self.url = url
    }
}
