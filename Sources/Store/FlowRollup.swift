import Glibc
public import Sampling

/// Connection durations as a histogram: four buckets per power of two of
/// milliseconds (each about 19% wide), so percentiles over millions of connections
/// come from a few hundred bytes, merged minute by minute. Raw rows and rollups both
/// go through it, so a percentile is computed the same way whichever answered.
public struct DurationHistogram: Sendable, Equatable {
    /// Connections per bucket.
    private(set) var counts: [Int: Int] = [:]

    public init() {}

    /// The bucket of `milliseconds`: 0 below one millisecond, else 1 + ⌊4·log2(ms)⌋.
    static func bucket(_ milliseconds: Double) -> Int {
        guard milliseconds >= 1, milliseconds.isFinite else { return milliseconds.isFinite ? 0 : 127 }
        return min(127, 1 + Int((4 * log2(milliseconds)).rounded(.down)))
    }

    /// The value a bucket stands for: the geometric middle of its range.
    static func value(ofBucket bucket: Int) -> Double {
        bucket == 0 ? 0.5 : exp2((Double(bucket - 1) + 0.5) / 4)
    }

    public mutating func add(milliseconds: Double) {
        counts[Self.bucket(milliseconds), default: 0] += 1
    }

    public mutating func merge(_ other: DurationHistogram) {
        for (bucket, count) in other.counts { counts[bucket, default: 0] += count }
    }

    /// How many durations it holds.
    public var count: Int { counts.values.reduce(0, +) }

    /// The `p`-th percentile (0...1), within a bucket's width; nil when empty.
    public func percentile(_ p: Double) -> Double? {
        let total = count
        guard total > 0 else { return nil }
        let rank = min(total - 1, Int((Double(total - 1) * p).rounded()))
        var seen = 0
        for bucket in counts.keys.sorted() {
            seen += counts[bucket]!
            if seen > rank { return Self.value(ofBucket: bucket) }
        }
        return nil
    }

    /// Sparse (bucket delta, count) varint pairs.
    func encode() -> [UInt8] {
        var bytes: [UInt8] = []
        var previous = 0
        for bucket in counts.keys.sorted() {
            Varint.append(UInt64(bucket - previous), to: &bytes)
            Varint.append(UInt64(counts[bucket]!), to: &bytes)
            previous = bucket
        }
        return bytes
    }

    static func decode(_ bytes: [UInt8]) -> DurationHistogram {
        var histogram = DurationHistogram()
        var index = 0
        var bucket = 0
        while index < bytes.count, let delta = Varint.read(bytes, &index), let count = Varint.read(bytes, &index) {
            bucket += Int(delta)
            histogram.counts[bucket, default: 0] += Int(count)
        }
        return histogram
    }
}

/// Closed connections counted per minute of their end, by what the flow questions
/// group on (`flow_minutes`). The ephemeral side of a connection is not kept: an
/// accepted connection (its local port a listener's) keeps its local port and drops
/// the peer's; an outgoing one keeps the remote port and drops its own. That is what
/// makes a minute of 60,000 connections from one client one row, and why a rollup
/// answers `remote_port` of accepted connections as `ephemeral`.
public struct FlowRollupKey: Hashable, Sendable {
    /// Minutes since the epoch of the connection's end.
    public var minute: Int64
    public var flow: FlowEndpoints
}

/// What the flow questions group a connection by: protocol, addresses, the ports
/// kept, and its first owner's name.
public struct FlowEndpoints: Hashable, Sendable {
    public var proto: TransportProtocol
    public var family: AddressFamily
    public var localAddress: IPAddress
    /// nil: ephemeral (not kept).
    public var localPort: UInt16?
    public var remoteAddress: IPAddress
    /// nil: ephemeral (not kept).
    public var remotePort: UInt16?
    /// The first owner's name, nil when no process held it.
    public var process: String?

    /// A connection's endpoints with the ephemeral side dropped: an accepted one (its
    /// local port a listener's) keeps its local port, an outgoing one the remote port.
    public init(proto: TransportProtocol, local: Endpoint, remote: Endpoint, process: String?, accepted: Bool) {
        self.init(proto: proto, family: local.address.family, localAddress: local.address, localPort: accepted ? local.port : nil,
                  remoteAddress: remote.address, remotePort: accepted ? nil : remote.port, process: process)
    }

    init(proto: TransportProtocol, family: AddressFamily, localAddress: IPAddress, localPort: UInt16?,
         remoteAddress: IPAddress, remotePort: UInt16?, process: String?) {
        self.proto = proto
        self.family = family
        self.localAddress = localAddress
        self.localPort = localPort
        self.remoteAddress = remoteAddress
        self.remotePort = remotePort
        self.process = process
    }
}

/// What a minute's connections with one key add up to.
public struct FlowRollupValue: Sendable {
    public var count = 0
    /// Seen only through their close event.
    public var closeEventOnly = 0
    public var bytesSent: UInt64 = 0
    public var bytesReceived: UInt64 = 0
    public var retransmits: UInt64 = 0
    /// Durations of those whose start is known.
    public var durations = DurationHistogram()
    /// The earliest start (or end, when the start is unknown) and the latest end.
    public var first: Double?
    public var last: Double?

    public init() {}

    /// Adds one connection; `end` is nil while it is open (no duration yet).
    public mutating func add(closeEventOnly: Bool, start: Double?, end: Double?, totals: ConnectionTotals?) {
        count += 1
        if closeEventOnly { self.closeEventOnly += 1 }
        bytesSent &+= totals?.bytesSent ?? 0
        bytesReceived &+= totals?.bytesReceived ?? 0
        retransmits &+= totals?.retransmits ?? 0
        if let start, let end { durations.add(milliseconds: max(0, end - start) * 1000) }
        if let earliest = start ?? end { first = min(first ?? earliest, earliest) }
        if let end { last = max(last ?? end, end) }
    }

    public mutating func merge(_ other: FlowRollupValue) {
        count += other.count
        closeEventOnly += other.closeEventOnly
        bytesSent &+= other.bytesSent
        bytesReceived &+= other.bytesReceived
        retransmits &+= other.retransmits
        durations.merge(other.durations)
        if let start = other.first { first = min(first ?? start, start) }
        if let end = other.last { last = max(last ?? end, end) }
    }
}

/// One connection as a rollup sees it.
struct ClosedFlow {
    var proto: TransportProtocol
    var local: Endpoint
    var remote: Endpoint
    var process: String?
    var closeEventOnly: Bool
    var start: Double?
    var end: Double
    var totals: ConnectionTotals?
    /// Accepted by a listener of this host (its local port is a listening one).
    var accepted: Bool

    var key: FlowRollupKey {
        FlowRollupKey(minute: Int64((end / 60).rounded(.down)),
                      flow: FlowEndpoints(proto: proto, local: local, remote: remote, process: process, accepted: accepted))
    }
}

/// Reads and writes `flow_minutes`.
enum FlowRollupTable {
    /// Adds `pending` to the rows on disk (in the caller's transaction).
    static func add(_ pending: [FlowRollupKey: FlowRollupValue], to database: Database) throws {
        let select = try database.prepare("""
            SELECT count, close_event_only, bytes_sent, bytes_received, retransmits, durations, first_ms, last_ms FROM flow_minutes
            WHERE minute = ? AND kind = ? AND local_addr = ? AND local_port = ? AND remote_addr = ? AND remote_port = ? AND process = ?
            """)
        let write = try database.prepare("""
            INSERT OR REPLACE INTO flow_minutes(minute, kind, local_addr, local_port, remote_addr, remote_port, process, count,
                                                close_event_only, bytes_sent, bytes_received, retransmits, durations, first_ms, last_ms)
            VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        for (key, added) in pending {
            let flow = key.flow
            let keyValues: [SQLValue] = [
                .integer(key.minute), .integer(ConnectionKind.encode(flow.proto, flow.family)),
                .blob(AddressBytes.encode(flow.localAddress)), .integer(flow.localPort.map { Int64($0) } ?? -1),
                .blob(AddressBytes.encode(flow.remoteAddress)), .integer(flow.remotePort.map { Int64($0) } ?? -1), .text(flow.process ?? ""),
            ]
            var value = added
            try select.bind(keyValues)
            do {
                defer { select.reset() }
                if try select.step() {
                    value.merge(try decodeValue(RowReader(select)))
                }
            }
            try write.run(keyValues + [
                .integer(Int64(value.count)), .integer(Int64(value.closeEventOnly)),
                .integer(Int64(bitPattern: value.bytesSent)), .integer(Int64(bitPattern: value.bytesReceived)),
                .integer(Int64(bitPattern: value.retransmits)), .blob(value.durations.encode()),
                value.first.map { .integer(Clock.milliseconds($0)) } ?? .null, value.last.map { .integer(Clock.milliseconds($0)) } ?? .null,
            ])
        }
    }

    static func decodeValue(_ row: RowReader) throws -> FlowRollupValue {
        var value = FlowRollupValue()
        value.count = Int(try row.int64("count"))
        value.closeEventOnly = Int(try row.int64("close_event_only"))
        value.bytesSent = UInt64(bitPattern: try row.int64("bytes_sent"))
        value.bytesReceived = UInt64(bitPattern: try row.int64("bytes_received"))
        value.retransmits = UInt64(bitPattern: try row.int64("retransmits"))
        value.durations = DurationHistogram.decode(try row.blob("durations"))
        value.first = try row.optionalInt64("first_ms").map { Clock.seconds(milliseconds: $0) }
        value.last = try row.optionalInt64("last_ms").map { Clock.seconds(milliseconds: $0) }
        return value
    }
}

extension HistoryReader {
    /// Every rollup row of the minutes in [fromMinute, toMinute), in minute order.
    public func flowMinutes(fromMinute: Int64, toMinute: Int64, visit: (FlowRollupKey, FlowRollupValue) -> Void) throws {
        let statement = try database.prepare("""
            SELECT minute, kind, local_addr, local_port, remote_addr, remote_port, process, count, close_event_only, bytes_sent, bytes_received,
                   retransmits, durations, first_ms, last_ms
            FROM flow_minutes WHERE minute >= ? AND minute < ? ORDER BY minute
            """)
        try statement.bind([.integer(fromMinute), .integer(toMinute)])
        defer { statement.reset() }
        var addresses = AddressCache()
        while try statement.step() {
            let row = try RowReader(statement)
            let (proto, family) = ConnectionKind.decode(try row.int64("kind"))
            func address(_ column: String) throws -> IPAddress { addresses.decode(try row.blob(column)) }
            let localPort = try row.int64("local_port"), remotePort = try row.int64("remote_port")
            let process = try row.text("process")
            let flow = FlowEndpoints(
                proto: proto, family: family, localAddress: try address("local_addr"),
                localPort: localPort < 0 ? nil : UInt16(truncatingIfNeeded: localPort), remoteAddress: try address("remote_addr"),
                remotePort: remotePort < 0 ? nil : UInt16(truncatingIfNeeded: remotePort), process: process.isEmpty ? nil : process)
            let key = FlowRollupKey(minute: try row.int64("minute"), flow: flow)
            visit(key, try FlowRollupTable.decodeValue(row))
        }
    }

    /// The first minute the rollups cover (nil when none is recorded).
    public func firstFlowMinute() throws -> Int64? {
        try database.scalar("SELECT min(minute) FROM flow_minutes")
    }
}

/// Counts the connections recorded before `flow_minutes` existed, once: the first
/// writer after the migration walks them (closed ones, by id, in batches) and deletes
/// the `flow_backfill` marker. Which were accepted is told by the listeners history
/// has on the same port.
enum FlowBackfill {
    static func run(_ database: Database) throws {
        guard let through = try database.scalar("SELECT through FROM flow_backfill") else { return }
        var listening = Set<String>()
        let listeners = try database.prepare("SELECT DISTINCT kind, local_port, coalesce(netns, 0) AS netns FROM connections WHERE (kind & 1 = 0 AND state = ?) OR (kind & 1 = 1 AND remote_port = 0)")
        try listeners.bind([.integer(Int64(SocketState.listen.rawValue))])
        do {
            defer { listeners.reset() }
            while try listeners.step() {
                let row = try RowReader(listeners)
                let (proto, _) = ConnectionKind.decode(try row.int64("kind"))
                listening.insert("\(proto.rawValue)/\(try row.int64("netns"))/\(try row.int64("local_port"))")
            }
        }
        var after: Int64 = 0
        while after < through {
            var flows: [FlowRollupKey: FlowRollupValue] = [:]
            var last = after
            let rows = try database.prepare("""
                SELECT c.id, c.kind, c.state, c.local_addr, c.local_port, c.remote_addr, c.remote_port, c.origin, c.closed_at_ms, c.totals,
                       coalesce(c.netns, 0) AS netns, f.taken_at_ms AS first_ms, l.taken_at_ms AS last_ms, p.name AS process
                FROM connections c
                LEFT JOIN sample_times f ON f.id = c.first_sample
                LEFT JOIN sample_times l ON l.id = c.last_sample
                LEFT JOIN processes p ON p.id = c.process_id
                WHERE c.id > ? AND c.id <= ? AND c.last_sample IS NOT NULL ORDER BY c.id LIMIT 10000
                """)
            try rows.bind([.integer(after), .integer(through)])
            do {
                defer { rows.reset() }
                while try rows.step() {
                    let row = try RowReader(rows)
                    last = try row.int64("id")
                    let (proto, _) = ConnectionKind.decode(try row.int64("kind"))
                    let state = SocketState(rawValue: UInt8(truncatingIfNeeded: try row.int64("state"))) ?? .close
                    let local = Endpoint(address: AddressBytes.decode(try row.blob("local_addr")), port: UInt16(truncatingIfNeeded: try row.int64("local_port")))
                    let remote = Endpoint(address: AddressBytes.decode(try row.blob("remote_addr")), port: UInt16(truncatingIfNeeded: try row.int64("remote_port")))
                    guard !SampleListeners.isListener(proto: proto, state: state, remote: remote) else { continue }
                    let origin = ConnectionOrigin(rawValue: try row.int64("origin"))
                    let closedAt = try row.optionalInt64("closed_at_ms").map { Clock.seconds(milliseconds: $0) }
                    let lastSeen = try row.optionalInt64("last_ms").map { Clock.seconds(milliseconds: $0) }
                    guard let end = closedAt ?? lastSeen else { continue }
                    let closeEventOnly = origin.contains(.closeEvent)
                    let flow = ClosedFlow(
                        proto: proto, local: local, remote: remote, process: try row.optionalText("process"), closeEventOnly: closeEventOnly,
                        start: closeEventOnly ? nil : try row.optionalInt64("first_ms").map { Clock.seconds(milliseconds: $0) }, end: end,
                        totals: ConnectionTotals.decode(try row.blob("totals")),
                        accepted: listening.contains("\(proto.rawValue)/\(try row.int64("netns"))/\(local.port)"))
                    flows[flow.key, default: FlowRollupValue()].add(closeEventOnly: closeEventOnly, start: flow.start, end: end, totals: flow.totals)
                }
            }
            try database.transaction { try FlowRollupTable.add(flows, to: database) }
            if last == after { break }
            after = last
        }
        try database.prepare("DELETE FROM flow_backfill").run([])
    }
}

/// A connection present at a sample, as the flow questions need it: read with a
/// narrow column list (no logs), so tens of thousands of TIME_WAITs cost milliseconds.
public struct OpenFlow: Sendable {
    public var proto: TransportProtocol
    public var family: AddressFamily
    public var local: Endpoint
    public var remote: Endpoint
    public var netns: UInt64?
    /// A TCP listener or an unconnected UDP socket: not a connection.
    public var isListener: Bool
    /// Its first owner's name.
    public var process: String?
    public var closeEventOnly: Bool
    /// First seen (nil when only its close event is known).
    public var start: Double?
    /// Its close time or last sample; nil while open.
    public var end: Double?
    public var totals: ConnectionTotals?
}

extension HistoryReader {
    /// The connections present at sample `sampleID`. At the newest sample those are the
    /// rows still open (an index holds them); an older one replays from a keyframe.
    public func openFlows(atSample sampleID: Int64) throws -> [OpenFlow] {
        let ids: [Int64]
        if let newest = try database.scalar("SELECT max(id) FROM samples"), newest == sampleID {
            ids = try database.integers("SELECT id FROM connections WHERE last_sample IS NULL ORDER BY id")
        } else {
            ids = try presentIDs(atSample: sampleID).sorted()
        }
        var flows: [OpenFlow] = []
        flows.reserveCapacity(ids.count)
        let statement = try database.prepare("""
            SELECT c.kind, c.state, c.local_addr, c.local_port, c.remote_addr, c.remote_port, c.origin, c.closed_at_ms, c.totals, c.netns,
                   f.taken_at_ms AS first_ms, l.taken_at_ms AS last_ms, p.name AS process
            FROM connections c
            LEFT JOIN sample_times f ON f.id = c.first_sample
            LEFT JOIN sample_times l ON l.id = c.last_sample
            LEFT JOIN processes p ON p.id = c.process_id
            WHERE c.id IN (SELECT value FROM json_each(?)) ORDER BY c.id
            """)
        var addresses = AddressCache()
        for start in stride(from: 0, to: ids.count, by: 20_000) {
            let batch = ids[start..<min(ids.count, start + 20_000)]
            try statement.bind([.text("[" + batch.map(String.init).joined(separator: ",") + "]")])
            defer { statement.reset() }
            while try statement.step() {
                let row = try RowReader(statement)
                func address(_ column: String) throws -> IPAddress { addresses.decode(try row.blob(column)) }
                let (proto, family) = ConnectionKind.decode(try row.int64("kind"))
                let state = SocketState(rawValue: UInt8(truncatingIfNeeded: try row.int64("state"))) ?? .close
                let remote = Endpoint(address: try address("remote_addr"), port: UInt16(truncatingIfNeeded: try row.int64("remote_port")))
                let origin = ConnectionOrigin(rawValue: try row.int64("origin"))
                let closedAt = try row.optionalInt64("closed_at_ms").map { Clock.seconds(milliseconds: $0) }
                let lastSeen = try row.optionalInt64("last_ms").map { Clock.seconds(milliseconds: $0) }
                flows.append(OpenFlow(
                    proto: proto, family: family,
                    local: Endpoint(address: try address("local_addr"), port: UInt16(truncatingIfNeeded: try row.int64("local_port"))),
                    remote: remote, netns: try row.optionalInt64("netns").map { UInt64(bitPattern: $0) },
                    isListener: SampleListeners.isListener(proto: proto, state: state, remote: remote),
                    process: try row.optionalText("process"), closeEventOnly: origin.contains(.closeEvent),
                    start: origin.contains(.closeEvent) ? nil : try row.optionalInt64("first_ms").map { Clock.seconds(milliseconds: $0) },
                    end: closedAt ?? lastSeen, totals: ConnectionTotals.decode(try row.blob("totals"))))
            }
        }
        return flows
    }
}

/// Addresses decoded once per distinct value while reading many rows (most rows of a
/// flow query share a handful of addresses).
struct AddressCache {
    private var decoded: [[UInt8]: IPAddress] = [:]

    mutating func decode(_ bytes: [UInt8]) -> IPAddress {
        if let known = decoded[bytes] { return known }
        let address = AddressBytes.decode(bytes)
        decoded[bytes] = address
        return address
    }
}
