internal import CSQLite
import Glibc

/// Opens the history file: checks it is netstatd's (or new), applies migrations, and
/// sets WAL. A corrupt or foreign file is refused with a clear error and left untouched.
public enum StoreFile {
    /// Opens `path` for writing (the Recorder's connection), creating it if needed.
    public static func openForWriting(_ path: String) throws -> Database {
        try refuseForeign(path)
        let database = try Database(path: path)
        do {
            // Stamped before WAL is on, so it lands in the main file's header at once:
            // after a kill -9 the header is what refuseForeign reads, and a WAL that was
            // never checkpointed would leave it 0.
            try database.execute("PRAGMA application_id=\(Schema.applicationID)")
            try database.execute("PRAGMA journal_mode=WAL")
            // NORMAL in WAL mode: a crash loses at most the last transaction, never integrity.
            try database.execute("PRAGMA synchronous=NORMAL")
            try database.execute("PRAGMA foreign_keys=OFF")
            try migrate(database)
        } catch let error as SQLiteError where error.primaryCode == SQLITE_NOTADB || error.primaryCode == SQLITE_CORRUPT {
            throw StoreError.notNetstatd(path: path, reason: "it is not an SQLite database or it is corrupt (\(error.message))")
        }
        return database
    }

    /// Opens `path` read-only, for an HTTP reader.
    public static func openForReading(_ path: String) throws -> Database {
        let database = try Database(path: path, mode: .readOnly)
        try database.execute("PRAGMA query_only=1")
        return database
    }

    /// Refuses a file that exists and is not a netstatd database, before SQLite writes
    /// anything to it (opening in WAL mode would create -wal and -shm files beside it).
    static func refuseForeign(_ path: String) throws {
        var info = stat()
        guard stat(path, &info) == 0, info.st_size > 0 else { return }
        guard let header = try? readPrefix(path, count: 100), header.count == 100 else {
            throw StoreError.notNetstatd(path: path, reason: "it cannot be read")
        }
        guard Array(header[0..<16]) == Array("SQLite format 3\0".utf8) else {
            throw StoreError.notNetstatd(path: path, reason: "it is not an SQLite database")
        }
        // The application id sits at offset 68 of the header, big-endian.
        let id = header[68..<72].reduce(Int32(0)) { $0 << 8 | Int32($1) }
        if id != Schema.applicationID {
            throw StoreError.notNetstatd(path: path, reason: "it is an SQLite database of another application (application_id \(id))")
        }
    }

    static func readPrefix(_ path: String, count: Int) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw StoreError.notNetstatd(path: path, reason: "it cannot be opened") }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: count)
        let got = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress, count) }
        return Array(bytes.prefix(max(0, got)))
    }

    /// Applies the migrations not yet recorded in `schema_migrations`, each in a transaction.
    static func migrate(_ database: Database) throws {
        try database.execute("CREATE TABLE IF NOT EXISTS schema_migrations(name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")
        for migration in Schema.migrations {
            let applied = try database.scalar("SELECT count(*) FROM schema_migrations WHERE name = ?", [.text(migration.name)]) ?? 0
            if applied > 0 { continue }
            try database.transaction {
                try database.execute(migration.sql)
                try database.prepare("INSERT INTO schema_migrations(name, applied_at) VALUES(?, ?)")
                    .run([.text(migration.name), .real(Double(time(nil)))])
            }
        }
    }
}

/// Why the history file cannot be used.
public enum StoreError: Error, CustomStringConvertible, Sendable {
    /// The file exists and is not netstatd's history.
    case notNetstatd(path: String, reason: String)

    public var description: String {
        switch self {
        case let .notNetstatd(path, reason):
            return "\(path) is not a netstatd history file: \(reason). It was left untouched; pass --db with another path (or move the file away)."
        }
    }
}
