/// The packed event encodings (see Schema): varints, so a typical event is 3 bytes.
enum ChangeLog {
    /// The value of a `closed` event for a connection that closed while netstatd was
    /// not sampling (between two runs): its end is known only to lie in the gap.
    static let closedDuringGap: Int64 = 1

    /// One event of a connection's own log: the sample (as a delta from the
    /// connection's first sample), the kind and the value.
    struct ConnectionEntry: Equatable {
        var sample: Int64
        var kind: EventKind
        var value: Int64?
    }

    /// One event of a sample's feed row.
    struct FeedEntry: Equatable {
        var connection: Int64
        var kind: EventKind
        var value: Int64?
    }

    static func append(_ entry: ConnectionEntry, firstSample: Int64, to bytes: inout [UInt8]) {
        Varint.append(UInt64(max(0, entry.sample - firstSample)), to: &bytes)
        Varint.append(UInt64(entry.kind.rawValue), to: &bytes)
        Varint.append(entry.value.map { UInt64(bitPattern: $0) &+ 1 } ?? 0, to: &bytes)
    }

    static func decodeConnection(_ bytes: [UInt8], firstSample: Int64) -> [ConnectionEntry] {
        var entries: [ConnectionEntry] = []
        var index = 0
        while index < bytes.count {
            guard let delta = Varint.read(bytes, &index), let kind = Varint.read(bytes, &index),
                  let value = Varint.read(bytes, &index), let eventKind = EventKind(rawValue: Int64(kind)) else { break }
            entries.append(ConnectionEntry(sample: firstSample + Int64(delta), kind: eventKind,
                                           value: value == 0 ? nil : Int64(bitPattern: value &- 1)))
        }
        return entries
    }

    /// Encodes a sample's events, sorted by (connection, kind); connection ids as deltas.
    static func encodeFeed(_ entries: [FeedEntry]) -> [UInt8] {
        var bytes: [UInt8] = []
        var previous: Int64 = 0
        for entry in entries.sorted(by: { ($0.connection, $0.kind.rawValue) < ($1.connection, $1.kind.rawValue) }) {
            Varint.append(UInt64(entry.connection - previous), to: &bytes)
            Varint.append(UInt64(entry.kind.rawValue), to: &bytes)
            Varint.append(entry.value.map { UInt64(bitPattern: $0) &+ 1 } ?? 0, to: &bytes)
            previous = entry.connection
        }
        return bytes
    }

    /// The kinds' room in a feed key: a sample row can log one connection several
    /// events of one kind (four workers taking a listener in one sample are four
    /// `owner_added`), and the feed's cursor must tell them apart. The first keeps
    /// its kind as the key (so cursors written before stay valid); the n-th after it
    /// is `kind + n * feedKindRoom`, ordered after the connection's other events of
    /// the sample. Kinds are below 16.
    static let feedKindRoom: Int64 = 16

    /// The cursor `kind` of each entry of a decoded row, in the row's order: its
    /// kind, plus `feedKindRoom` for each earlier entry of the same connection and kind.
    /// A row is stored sorted by (connection, kind) (`encodeFeed`), so those earlier
    /// entries are the ones right before it.
    static func feedKeyKinds(_ entries: [FeedEntry]) -> [Int64] {
        var keys: [Int64] = []
        keys.reserveCapacity(entries.count)
        var earlier: Int64 = 0
        for (index, entry) in entries.enumerated() {
            let repeated = index > 0 && entries[index - 1].connection == entry.connection && entries[index - 1].kind == entry.kind
            earlier = repeated ? earlier + 1 : 0
            keys.append(entry.kind.rawValue + earlier * feedKindRoom)
        }
        return keys
    }

    static func decodeFeed(_ bytes: [UInt8]) -> [FeedEntry] {
        var entries: [FeedEntry] = []
        var index = 0
        var connection: Int64 = 0
        while index < bytes.count {
            guard let delta = Varint.read(bytes, &index), let kind = Varint.read(bytes, &index),
                  let value = Varint.read(bytes, &index), let eventKind = EventKind(rawValue: Int64(kind)) else { break }
            connection += Int64(delta)
            entries.append(FeedEntry(connection: connection, kind: eventKind, value: value == 0 ? nil : Int64(bitPattern: value &- 1)))
        }
        return entries
    }
}

/// LEB128 unsigned varints.
enum Varint {
    static func append(_ value: UInt64, to bytes: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(v & 0x7f) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    static func read(_ bytes: [UInt8], _ index: inout Int) -> UInt64? {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while index < bytes.count, shift < 64 {
            let byte = bytes[index]
            index += 1
            value |= UInt64(byte & 0x7f) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
        return nil
    }
}
