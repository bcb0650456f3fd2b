public import Service
public import Store

/// What history routes need: readers for the file and how the writer is doing.
public struct HistoryAccess: Sendable {
    /// Read-only connections to the history file.
    public let readers: ReaderPool
    /// The writer's health.
    public let status: RecorderStatus
    /// The file's path (for its size in /status).
    public let path: String
    /// The reader of the kernel's close events feeding history, when there is one.
    public let closeEvents: CloseEventReader?
    /// Connections closed and their bytes by listening port, from the close events.
    public let closedByPort: ClosedByPort?
    /// The exports of the event feed (`--export-url`), for /api/v1/status and /metrics.
    public var exporters: [EventExporter] = []

    public init(readers: ReaderPool, status: RecorderStatus, path: String, closeEvents: CloseEventReader? = nil,
                closedByPort: ClosedByPort? = nil) {
        self.readers = readers
        self.status = status
        self.path = path
        self.closeEvents = closeEvents
        self.closedByPort = closedByPort
    }
}
