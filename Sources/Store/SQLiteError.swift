internal import CSQLite

/// A failed SQLite call: SQLite's result code and message, and the SQL it was running.
public struct SQLiteError: Error, CustomStringConvertible, Sendable {
    /// The (extended) result code, e.g. SQLITE_FULL (13), SQLITE_NOTADB (26).
    public let code: Int32
    /// sqlite3_errmsg at the time of the failure.
    public let message: String
    /// The statement, when there was one.
    public let sql: String?

    /// The primary result code (the low byte of an extended one).
    public var primaryCode: Int32 { code & 0xff }

    /// True when the disk (or the file's size limit) is full.
    public var isDiskFull: Bool { primaryCode == SQLITE_FULL || primaryCode == SQLITE_IOERR }

    /// True when SQLite found the file damaged (or not a database at all).
    public var isCorruption: Bool { primaryCode == SQLITE_CORRUPT || primaryCode == SQLITE_NOTADB }

    public var description: String {
        "SQLite error \(code): \(message)" + (sql.map { " (in: \($0.prefix(120)))" } ?? "")
    }
}
