/// The `short_connections` table: one packed block (`ShortConnectionBlock`) per sample
/// that had sockets seen only through their close event, keyed by the block's first
/// connection id (ids grow with samples, so id order is time order), with the count
/// and the first and last close times beside it so a window's query decodes only the
/// blocks its edges cut.
enum ShortConnectionTable {
    /// SQL for the first id of the block holding id `parameter` (or of the last block
    /// before it): a lower bound on `first_id` the primary key can seek to, where
    /// `first_id + count - 1 > id` alone would read every block.
    private static func blockHolding(_ parameter: String) -> String {
        "coalesce((SELECT max(first_id) FROM short_connections WHERE first_id <= \(parameter)), 0)"
    }

    /// A block's place and times, without its entries.
    struct Block {
        var firstID: Int64
        var count: Int64
        var firstClosedMs: Int64
        var lastClosedMs: Int64
        var ids: ClosedRange<Int64> { firstID...(firstID + count - 1) }
    }

    /// Writes the entries closed before sample `sample` as ids `firstID`...
    static func insert(_ entries: [ShortConnection], firstID: Int64, sample: Int64, into database: Database) throws {
        guard !entries.isEmpty else { return }
        let times = entries.map(\.closedAtMs)
        try database.prepare("""
            INSERT INTO short_connections(first_id, sample_id, count, first_closed_ms, last_closed_ms, data) VALUES(?, ?, ?, ?, ?, ?)
            """).run([.integer(firstID), .integer(sample), .integer(Int64(entries.count)),
                      .integer(times.min() ?? 0), .integer(times.max() ?? 0), .blob(ShortConnectionBlock.encode(entries))])
    }

    /// The highest id a block holds (0 for none).
    static func lastID(in database: Database) throws -> Int64 {
        try database.scalar("SELECT coalesce(max(first_id + count - 1), 0) FROM short_connections") ?? 0
    }

    /// The lowest id a block holds, if any.
    static func firstID(in database: Database) throws -> Int64? {
        try database.scalar("SELECT min(first_id) FROM short_connections")
    }

    /// The ids above `after` and in (`low`, `high`] of short connections that closed in
    /// [`fromMs`, `toMs`], ascending, at most `limit`.
    static func ids(closedFrom fromMs: Int64, to toMs: Int64, low: Int64, high: Int64, after: Int64, limit: Int,
                    in database: Database) throws -> [Int64] {
        let statement = try database.prepare("""
            SELECT first_id, count, first_closed_ms, last_closed_ms, data FROM short_connections
            WHERE first_id <= ?2 AND first_id >= \(blockHolding("?1")) AND first_id + count - 1 > ?1
              AND last_closed_ms >= ?3 AND first_closed_ms <= ?4
            ORDER BY first_id
            """)
        defer { statement.reset() }
        try statement.bind([.integer(max(low, after)), .integer(high), .integer(fromMs), .integer(toMs)])
        var ids: [Int64] = []
        while ids.count < limit, try statement.step() {
            let block = Block(firstID: statement.int64(0), count: statement.int64(1),
                              firstClosedMs: statement.int64(2), lastClosedMs: statement.int64(3))
            let wanted = { (id: Int64) in id > after && id > low && id <= high }
            if block.firstClosedMs >= fromMs && block.lastClosedMs <= toMs {
                // Wholly inside the window: no need to decode it.
                ids += block.ids.lazy.filter(wanted).prefix(limit - ids.count)
            } else {
                for (offset, entry) in (ShortConnectionBlock.decode(statement.blob(4)) ?? []).enumerated()
                where entry.closedAtMs >= fromMs && entry.closedAtMs <= toMs && wanted(block.firstID + Int64(offset)) {
                    ids.append(block.firstID + Int64(offset))
                    if ids.count == limit { break }
                }
            }
        }
        return ids
    }

    /// The short connections among `ids`, each with the sample its block belongs to.
    /// Reads each block once (ids of one sample are consecutive).
    static func load(_ ids: [Int64], from database: Database) throws -> [Int64: (connection: ShortConnection, sample: Int64)] {
        guard !ids.isEmpty else { return [:] }
        let find = try database.prepare(
            "SELECT first_id, sample_id, count, data FROM short_connections WHERE first_id <= ? ORDER BY first_id DESC LIMIT 1")
        var result: [Int64: (connection: ShortConnection, sample: Int64)] = [:]
        var current: (range: ClosedRange<Int64>, sample: Int64, entries: [ShortConnection])?
        for id in ids.sorted() {
            if current == nil || !current!.range.contains(id) {
                try find.bind([.integer(id)])
                defer { find.reset() }
                guard try find.step() else { continue }
                let first = find.int64(0)
                current = (first...(first + find.int64(2) - 1), find.int64(1), ShortConnectionBlock.decode(find.blob(3)) ?? [])
            }
            guard let block = current, block.range.contains(id) else { continue }
            let offset = Int(id - block.range.lowerBound)
            if offset < block.entries.count { result[id] = (block.entries[offset], block.sample) }
        }
        return result
    }

    /// The ids above `after` with the sample each was recorded in, ascending, at most
    /// `limit`: the openings of the event feed.
    static func openings(after: Int64, limit: Int, in database: Database) throws -> [(id: Int64, sample: Int64)] {
        let statement = try database.prepare(
            "SELECT first_id, sample_id, count FROM short_connections WHERE first_id >= \(blockHolding("?1")) AND first_id + count - 1 > ?1 ORDER BY first_id")
        defer { statement.reset() }
        try statement.bind([.integer(after)])
        var result: [(id: Int64, sample: Int64)] = []
        while result.count < limit, try statement.step() {
            let first = statement.int64(0)
            for id in max(first, after + 1)...(first + statement.int64(2) - 1) {
                result.append((id, statement.int64(1)))
                if result.count == limit { break }
            }
        }
        return result
    }

    /// The feed's `closed` events that blocks stand for, after `cursor` in feed order,
    /// at most `limit`: each of a block's connections closes in the block's sample
    /// (key: sample, id, closed). Blocks from before migration 010 are left out: their
    /// `closed` events are stored in `changes`.
    static func closings(after cursor: EventCursor, limit: Int, in database: Database) throws -> [EventCursor] {
        var result: [EventCursor] = []
        try forEachClosingBlock(after: cursor, in: database) { ids, sample in
            for id in ids {
                result.append(EventCursor(sample: sample, connection: id, kind: EventKind.closed.rawValue, openedThrough: 0))
                if result.count == limit { return false }
            }
            return true
        }
        return result
    }

    /// How many events `closings` has after `cursor`, counting no further than
    /// `limit + 1` (the backlog count's bound) and listing none.
    static func closingCount(after cursor: EventCursor, limit: Int, in database: Database) throws -> Int {
        var count = 0
        try forEachClosingBlock(after: cursor, in: database) { ids, _ in
            count += ids.count
            return count <= limit
        }
        return count
    }

    /// Calls `body` with the ids of each block whose `closed` events are derived and
    /// lie after `cursor`, in feed order, with the block's sample, until it returns false.
    private static func forEachClosingBlock(
        after cursor: EventCursor, in database: Database, _ body: (ClosedRange<Int64>, Int64) throws -> Bool
    ) throws {
        // Blocks of samples from the cursor's on hold ids above the `connections_through`
        // of the sample before it: a seek on the primary key.
        let statement = try database.prepare("""
            SELECT first_id, sample_id, count FROM short_connections
            WHERE first_id > max((SELECT from_id FROM short_closings_derived) - 1,
                                 coalesce((SELECT connections_through FROM samples WHERE id < ?1 ORDER BY id DESC LIMIT 1), 0))
            ORDER BY first_id
            """)
        defer { statement.reset() }
        try statement.bind([.integer(cursor.sample)])
        let closed = EventKind.closed.rawValue
        while try statement.step() {
            let (first, sample, count) = (statement.int64(0), statement.int64(1), statement.int64(2))
            guard sample >= cursor.sample, count > 0 else { continue }
            let last = first + count - 1
            var lowest = first
            if sample == cursor.sample {
                // Keys in the cursor's sample are after it from its connection on, its
                // own `closed` only if the cursor stopped before that kind. Compared
                // before anything is added: a cursor is a client's text, and its
                // connection may be Int64.max.
                if cursor.connection > last || (cursor.connection == last && cursor.kind >= closed) { continue }
                lowest = max(first, cursor.kind < closed ? cursor.connection : cursor.connection + 1)
            }
            guard try body(lowest...last, sample) else { return }
        }
    }

    /// How many ids above `after` the blocks hold.
    static func count(after: Int64, in database: Database) throws -> Int64 {
        try database.scalar("""
            SELECT coalesce(sum(min(count, first_id + count - 1 - ?1)), 0) FROM short_connections
            WHERE first_id >= \(blockHolding("?1")) AND first_id + count - 1 > ?1
            """, [.integer(after)]) ?? 0
    }

    /// Deletes, a batch at a time, the blocks whose ids are all at or below `through`
    /// (ids grow with time: those of the samples up to a cutoff).
    static func prune(through: Int64, batch: Int, in database: Database) throws {
        try database.prepare("""
            DELETE FROM short_connections WHERE first_id IN (
                SELECT first_id FROM short_connections WHERE first_id + count - 1 <= ? ORDER BY first_id LIMIT ?)
            """).run([.integer(through), .integer(Int64(batch))])
    }
}
