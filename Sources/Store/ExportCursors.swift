import Glibc
import Sampling

/// Where an export stands: the last event its receiver acknowledged, and when.
public struct ExportPosition: Sendable, Equatable {
    /// Resume the feed after this.
    public var cursor: EventCursor
    /// When the receiver acknowledged it (wall seconds).
    public var acknowledgedAt: Double

    public init(cursor: EventCursor, acknowledgedAt: Double) {
        self.cursor = cursor
        self.acknowledgedAt = acknowledgedAt
    }
}

/// The exporters' part of the history file (`006_export_cursors`): each receiver's
/// cursor, saved only once the receiver has acknowledged the events before it, so a
/// restart or a receiver's outage loses nothing and sends nothing again; and the
/// file's instance id, which every exported line carries.
///
/// Its own read-write connection beside the Recorder's: a one-row write per batch,
/// which SQLite serialises with the Recorder's transactions (the busy timeout waits
/// out a sample being written); readers never wait on either (WAL).
/// Not thread-safe: one exporter thread owns it.
public final class ExportCursors {
    private let database: Database

    /// Joins the history file at `path`, which the Recorder has created: a missing or
    /// foreign file is refused rather than created here.
    public init(path: String) throws {
        try StoreFile.refuseForeign(path)
        var info = stat()
        guard stat(path, &info) == 0, info.st_size > 0 else {
            throw StoreError.cannotOpen(path: path, reason: "there is no history file there yet (the Recorder creates it)", errno: ENOENT)
        }
        database = try Database(path: path)
        // A no-op once the Recorder has migrated the file; a file the exporter is
        // given first still gets the tables it needs.
        try StoreFile.migrate(database)
    }

    /// The id of this history file (a UUID made once, when the table was created).
    public func instanceID() throws -> String {
        let rows = try database.texts("SELECT uuid FROM instance WHERE id = 1")
        guard let id = rows.first else { throw StoreError.inconsistent("the instance table has no row") }
        return id
    }

    /// Where the export to `key` (its URL without a password) stands; nil when it has
    /// never had an acknowledgement.
    public func position(of key: String) throws -> ExportPosition? {
        let statement = try database.prepare("SELECT cursor, acknowledged_at_ms FROM export_cursors WHERE url = ?")
        defer { statement.reset() }
        try statement.bind([.text(key)])
        guard try statement.step() else { return nil }
        let text = statement.text(0)
        guard let cursor = EventCursor(text: text) else {
            throw StoreError.inconsistent("export_cursors holds \(text.debugDescription) for \(key), which is not an event cursor (s.c.k.o)")
        }
        return ExportPosition(cursor: cursor, acknowledgedAt: Clock.seconds(milliseconds: statement.int64(1)))
    }

    /// Records that the receiver at `key` acknowledged everything up to `position.cursor`.
    public func save(_ position: ExportPosition, for key: String) throws {
        try database.prepare("""
            INSERT INTO export_cursors(url, cursor, acknowledged_at_ms) VALUES(?, ?, ?)
            ON CONFLICT(url) DO UPDATE SET cursor = excluded.cursor, acknowledged_at_ms = excluded.acknowledged_at_ms
            """).run([.text(key), .text(position.cursor.text), .integer(Clock.milliseconds(position.acknowledgedAt))])
    }
}
