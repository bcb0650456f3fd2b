import Glibc
import Sampling

/// Read-only connections for HTTP threads: each request borrows one, so readers never
/// share a connection and never wait on the writer (WAL).
public final class ReaderPool: @unchecked Sendable {
    // @unchecked: `idle` is only touched while holding `lock`; a borrowed reader is
    // used by one thread at a time.
    private let path: String
    private var idle: [HistoryReader] = []
    private let lock = Lock()
    private let status: RecorderStatus?

    /// A pool over the history file at `path` (opened lazily). Damage found by a
    /// read is reported to `status` (and so by /healthz).
    public init(path: String, status: RecorderStatus? = nil) {
        self.path = path
        self.status = status
    }

    /// Runs `body` with a reader of its own. A read that finds the file damaged
    /// throws `StoreError.corrupt` and marks the history as damaged in `status`.
    public func withReader<T>(_ body: (HistoryReader) throws -> T) throws -> T {
        let reader = lock.withLock { idle.popLast() }
        let borrowed = try reader ?? HistoryReader(path: path)
        defer {
            lock.withLock { if idle.count < 16 { idle.append(borrowed) } }
        }
        do {
            return try body(borrowed)
        } catch let error as SQLiteError where error.isCorruption {
            status?.update { $0.damage = error.message }
            throw StoreError.corrupt(path: path, findings: [error.message])
        }
    }
}

/// How the writer is doing, shared between the sampler thread and /status, /healthz.
public final class RecorderStatus: @unchecked Sendable {
    // @unchecked: every field is read and written under `lock`.
    private let lock = Lock()
    private var state = Snapshot()

    /// The figures at one moment.
    public struct Snapshot: Sendable {
        /// Samples written since start.
        public var written = 0
        /// Samples that could not be written (disk full, file unwritable).
        public var failed = 0
        /// The error of the last failure, cleared when a write succeeds again.
        public var lastError: String?
        /// How long the last write took, in seconds.
        public var lastWriteSeconds: Double?
        /// Time of the last sample written.
        public var lastWrittenAt: Double?
        /// What a read found damaged in the file (SQLite's message), once it has.
        public var damage: String?
        /// Close events given up while writes failed (past what is kept for the next
        /// try): lost, so counted beside the reader's own drops.
        public var closeEventsDropped = 0
    }

    public init() {}

    /// The current figures.
    public var current: Snapshot { lock.withLock { state } }

    /// Records the outcome of one write.
    public func update(_ body: (inout Snapshot) -> Void) {
        lock.withLock { body(&state) }
    }
}
