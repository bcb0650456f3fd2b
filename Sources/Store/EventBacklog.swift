import Sampling

extension HistoryReader {
    /// How many events `events(after:limit:)` has still to serve after `cursor`
    /// (an exporter's backlog), counted from the packed rows without loading any
    /// connection; nil when there are more than `limit`, where counting stops being
    /// cheap. The count follows the feed's rules: openings by connection id, the
    /// short connections' closings and the `changes` entries past the cursor, less
    /// the owner additions logged in a connection's first sample (those owners
    /// travel in its `opened` event).
    public func eventCount(after cursor: EventCursor, limit: Int) throws -> Int? {
        var count = Int(try database.scalar("SELECT count(*) FROM connections WHERE id > ?", [.integer(cursor.openedThrough)]) ?? 0)
            + Int(try ShortConnectionTable.count(after: cursor.openedThrough, in: database))
        guard count <= limit else { return nil }
        count += try ShortConnectionTable.closingCount(after: cursor, limit: limit - count, in: database)
        guard count <= limit else { return nil }
        // Connections opened in a sample are the ids above the previous sample's
        // `connections_through` (ids grow with time); without that sample (pruned),
        // each addition's connection is looked up.
        let rows = try database.prepare("""
            SELECT c.sample_id, c.data,
                   (SELECT p.connections_through FROM samples p WHERE p.id < c.sample_id ORDER BY p.id DESC LIMIT 1)
            FROM changes c WHERE c.sample_id >= ? ORDER BY c.sample_id
            """)
        defer { rows.reset() }
        try rows.bind([.integer(cursor.sample)])
        while try rows.step() {
            let sample = rows.int64(0)
            let openedAbove: Int64? = rows.isNull(2) ? nil : rows.int64(2)
            let entries = ChangeLog.decodeFeed(rows.blob(1))
            for (entry, keyKind) in zip(entries, ChangeLog.feedKeyKinds(entries)) {
                let key = EventCursor(sample: sample, connection: entry.connection, kind: keyKind, openedThrough: 0)
                guard cursor < key else { continue }
                if entry.kind == .ownerAdded {
                    let openedHere: Bool
                    if let openedAbove {
                        openedHere = entry.connection > openedAbove
                    } else {
                        openedHere = try database.scalar("SELECT first_sample FROM connections WHERE id = ?", [.integer(entry.connection)]) == sample
                    }
                    if openedHere { continue }
                }
                count += 1
                if count > limit { return nil }
            }
        }
        return count
    }
}
