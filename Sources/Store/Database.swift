internal import CSQLite
import Glibc
import Sampling

/// One SQLite connection. The Recorder owns the only writer; HTTP readers open their
/// own read-only connections, so a reader never waits on the writer (WAL mode).
/// Not thread-safe: one connection belongs to one thread at a time.
package final class Database {
    /// How to open the file.
    public enum Mode: Sendable {
        /// Read and write, creating the file if missing.
        case readWrite
        /// Read only; the file must exist.
        case readOnly
    }

    let handle: OpaquePointer
    /// The path this connection was opened on.
    public let path: String
    private var statements: [String: Statement] = [:]

    /// Opens `path`. Throws with SQLite's message when it cannot be opened.
    public init(path: String, mode: Mode = .readWrite) throws {
        var pointer: OpaquePointer?
        let flags = (mode == .readWrite ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY)
            | SQLITE_OPEN_NOMUTEX
        let code = sqlite3_open_v2(path, &pointer, flags, nil)
        guard code == SQLITE_OK, let pointer else {
            let message = pointer.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            if let pointer { sqlite3_close_v2(pointer) }
            throw SQLiteError(code: code, message: message, sql: nil)
        }
        handle = pointer
        self.path = path
        sqlite3_extended_result_codes(handle, 1)
        // Readers wait briefly for a checkpoint rather than failing at once.
        sqlite3_busy_timeout(handle, 2000)
    }

    private var isClosed = false

    deinit { close() }

    /// Finalizes the cached statements and closes the connection; nothing may use it
    /// afterwards. Called by deinit when not called before.
    public func close() {
        guard !isClosed else { return }
        isClosed = true
        statements.removeAll()
        sqlite3_close_v2(handle)
    }

    /// Runs one or more statements without results.
    public func execute(_ sql: String) throws {
        var error: UnsafeMutablePointer<CChar>?
        let code = sqlite3_exec(handle, sql, nil, nil, &error)
        if code != SQLITE_OK {
            let message = error.map { String(cString: $0) } ?? String(cString: sqlite3_errmsg(handle))
            sqlite3_free(error)
            throw SQLiteError(code: code, message: message, sql: sql)
        }
    }

    /// A prepared statement for `sql`, cached per connection and reset for reuse.
    public func prepare(_ sql: String) throws -> Statement {
        if let cached = statements[sql] {
            cached.reset()
            return cached
        }
        let statement = try Statement(database: self, sql: sql)
        statements[sql] = statement
        return statement
    }

    /// Runs `body` in a transaction: committed when it returns, rolled back when it throws.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    /// The first column of the first row of `sql`, as an integer (nil when no row).
    public func scalar(_ sql: String, _ values: [SQLValue] = []) throws -> Int64? {
        let statement = try prepare(sql)
        // Reset before returning: a statement left mid-result keeps its read
        // transaction open, and an open read transaction stops every checkpoint, so
        // the WAL would grow without bound.
        defer { statement.reset() }
        try statement.bind(values)
        guard try statement.step() else { return nil }
        return statement.isNull(0) ? nil : statement.int64(0)
    }

    /// Every row's first column of `sql`, as integers.
    public func integers(_ sql: String) throws -> [Int64] {
        try firstColumn(sql) { $0.int64(0) }
    }

    /// Every row's first column of `sql`, as text.
    public func texts(_ sql: String) throws -> [String] {
        try firstColumn(sql) { $0.text(0) }
    }

    private func firstColumn<T>(_ sql: String, _ read: (Statement) -> T) throws -> [T] {
        let statement = try prepare(sql)
        defer { statement.reset() }
        var result: [T] = []
        while try statement.step() { result.append(read(statement)) }
        return result
    }

    /// Runs `body`, interrupting any SQLite call on this connection still running
    /// after `seconds` (it then throws SQLITE_INTERRUPT).
    public func withDeadline<T>(seconds: Double, _ body: () throws -> T) throws -> T {
        let deadline = UnsafeMutablePointer<Double>.allocate(capacity: 1)
        deadline.pointee = Clock.monotonicSeconds() + seconds
        defer {
            sqlite3_progress_handler(handle, 0, nil, nil)
            deadline.deallocate()
        }
        // Called every 10,000 virtual machine steps; non-zero interrupts.
        sqlite3_progress_handler(handle, 10_000, { context in
            guard let context else { return 0 }
            return Clock.monotonicSeconds() > context.assumingMemoryBound(to: Double.self).pointee ? 1 : 0
        }, deadline)
        return try body()
    }

    /// The rowid of the last insert on this connection.
    public var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    func error(_ code: Int32, sql: String?) -> SQLiteError {
        SQLiteError(code: code, message: String(cString: sqlite3_errmsg(handle)), sql: sql)
    }
}

/// A value to bind.
package enum SQLValue: Sendable {
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])
    case null
}
