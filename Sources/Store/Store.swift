internal import CSQLite
import Glibc

/// Opens the history file: checks it is netstatd's (or new), applies migrations, and
/// sets WAL. A corrupt or foreign file is refused with a clear error and left untouched.
public enum StoreFile {
    /// How long the start-up integrity check may run before it is cut short (a very
    /// large file is then opened unchecked, and the check's absence is logged).
    public static let checkSeconds = 10.0

    /// Opens `path` for writing (the Recorder's connection), creating it if needed.
    /// Nothing is written to a file that exists until it has been read and found to
    /// be netstatd's and intact: the header, then `PRAGMA quick_check`, read-only.
    package static func openForWriting(_ path: String) throws -> Database {
        try refuseForeign(path)
        var info = stat()
        if stat(path, &info) == 0, info.st_size > 0 {
            try check(path)
        }
        let database: Database
        do {
            database = try Database(path: path)
        } catch let error as SQLiteError {
            throw StoreError.cannotOpen(path: path, reason: error.message, errno: errno)
        }
        do {
            // Before anything is written, so a refused file is left as it was.
            try refuseNewer(database)
            // Stamped before WAL is on, so it lands in the main file's header at once:
            // after a kill -9 the header is what refuseForeign reads, and a WAL that was
            // never checkpointed would leave it 0.
            try database.execute("PRAGMA application_id=\(Schema.applicationID)")
            try database.execute("PRAGMA journal_mode=WAL")
            // NORMAL in WAL mode: a crash loses at most the last transaction, never integrity.
            try database.execute("PRAGMA synchronous=NORMAL")
            try database.execute("PRAGMA foreign_keys=OFF")
            try migrate(database)
        } catch let error as SQLiteError where error.isCorruption {
            throw StoreError.notNetstatd(path: path, reason: "it is not an SQLite database or it is corrupt (\(error.message))")
        }
        return database
    }

    /// Reads the whole file read-only with `PRAGMA quick_check` (at most
    /// `checkSeconds`); throws `StoreError.corrupt` with SQLite's first findings.
    static func check(_ path: String) throws {
        let reader: Database
        do {
            reader = try Database(path: path, mode: .readOnly)
        } catch let error as SQLiteError {
            throw StoreError.notNetstatd(path: path, reason: "it cannot be opened (\(error.message))")
        }
        do {
            let findings = try reader.withDeadline(seconds: checkSeconds) { try reader.texts("PRAGMA quick_check(5)") }
            if findings != ["ok"] {
                throw StoreError.corrupt(path: path, findings: findings)
            }
        } catch let error as SQLiteError where error.isCorruption {
            throw StoreError.corrupt(path: path, findings: [error.message])
        } catch let error as SQLiteError where error.primaryCode == 9 /* SQLITE_INTERRUPT */ {
            // Too large to check in time: opened unchecked; later reads still report damage.
            return
        }
    }

    /// Opens `path` read-only, for an HTTP reader.
    package static func openForReading(_ path: String) throws -> Database {
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

    /// Refuses a file a newer netstatd migrated: this version would write it the old
    /// way beside the new (migration 010, for one, moved events out of a table an older
    /// writer still fills), and answers would be counted twice or lost. Reads only.
    static func refuseNewer(_ database: Database) throws {
        guard try database.scalar("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'") == 1 else { return }
        let known = Set(Schema.migrations.map(\.name))
        if let newer = try database.texts("SELECT name FROM schema_migrations ORDER BY name").last(where: { !known.contains($0) }) {
            throw StoreError.newerVersion(path: database.path, migration: newer)
        }
    }

    /// Applies the migrations not yet recorded in `schema_migrations`, each in a transaction.
    static func migrate(_ database: Database) throws {
        try refuseNewer(database)
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
    /// The file is netstatd's but damaged.
    case corrupt(path: String, findings: [String])
    /// Another process records into the file.
    case locked(path: String, holder: Int32?)
    /// The file (or its directory) cannot be opened or created.
    case cannotOpen(path: String, reason: String, errno: Int32)
    /// A row points at something that is not there (a damaged or hand-edited file).
    case inconsistent(String)
    /// A newer netstatd migrated the file past what this one knows.
    case newerVersion(path: String, migration: String)

    public var description: String {
        switch self {
        case let .corrupt(path, findings):
            return "\(path) is damaged (SQLite's check found: \(findings.prefix(3).joined(separator: "; "))). It was left untouched; move it away and start again, or recover what it holds with `sqlite3 \(path) .recover | sqlite3 recovered.db`, or run with --no-history."
        case let .locked(path, holder):
            let who = holder.map { "another netstatd (pid \($0))" } ?? "another process"
            return "\(who) is recording history into \(path); one file has one writer. Pass --db with another path, or --no-history to serve live data only."
        case let .cannotOpen(path, reason, code):
            let directory = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
            return "cannot open \(path) for writing: \(reason) (errno \(code)). Check that the directory \(directory.isEmpty ? "/" : directory) exists and is writable by this user, pass --db with another path, or --no-history to keep no history."
        case let .inconsistent(what):
            return "the history file is inconsistent: \(what)"
        case let .newerVersion(path, migration):
            return "\(path) was written by a newer netstatd (its schema has \(migration), which this version does not know). It was left untouched; run that version, or pass --db with another path."
        case let .notNetstatd(path, reason):
            return "\(path) is not a netstatd history file: \(reason). It was left untouched; pass --db with another path (or move the file away)."
        }
    }
}
