import Glibc
public import Sampling

/// A connection as history knows it: its lifetime, states, owners and backlog episodes.
public struct HistoricConnection: Sendable {
    /// Row id; also the cursor of window pages.
    public var id: Int64
    public var proto: TransportProtocol
    public var family: AddressFamily
    public var local: Endpoint
    public var remote: Endpoint
    public var uid: UInt32
    public var inode: UInt64
    public var cookie: UInt64?
    /// Its network namespace's inode (nil: recorded before namespaces were sampled).
    public var netns: UInt64? = nil
    /// When it was first seen (sample time).
    public var firstSeen: Double
    /// When it was last seen; nil while still open.
    public var lastSeen: Double?
    /// True when it closed while netstatd was not sampling (between two runs): it was
    /// gone at the first sample after the gap, and `lastSeen` is the gap's start.
    public var closedDuringGap = false
    /// How it was seen: in samples, or only through its close event (then it opened
    /// after the sample before its close, `firstSeen` is its close time and
    /// `firstSeenKnown` is false).
    public var origin: ConnectionOrigin = []
    /// False when when it opened is not known (seen only through its close event).
    public var firstSeenKnown = true
    /// The close time the kernel's close event gave (also `lastSeen` then).
    public var closedAt: Double?
    /// Final counters (TCP), from its close event or its last sample with tcp_info.
    public var totals: ConnectionTotals?
    /// The cgroup (v2 path) it was created in, as its close event said; nil when not known.
    public var cgroup: String? = nil

    /// How long it lived, when both ends are known.
    public var durationMs: Double? {
        guard firstSeenKnown, let end = closedAt ?? lastSeen else { return nil }
        return max(0, (end - firstSeen) * 1000)
    }
    /// Its states over time, oldest first (the first is its state when first seen).
    public var states: [(at: Double, state: SocketState)]
    /// Every owner it had, with when.
    public var owners: [HistoricOwner]
    /// Periods with non-empty queues.
    public var backlog: [BacklogEpisode]
    /// Recv-Q and Send-Q as recorded when they changed (from (0, 0) at first seen).
    public var queues: [(at: Double, recv: UInt32, send: UInt32)] = []

    /// Its queues at `time`; nil when its row was written before queues were recorded.
    public func queues(at time: Double) -> (recv: UInt32, send: UInt32)? {
        guard origin.contains(.queuesRecorded) else { return nil }
        guard let last = queues.last(where: { $0.at <= time }) else { return (0, 0) }
        return (last.recv, last.send)
    }

    /// The state at `time` (the last change at or before it).
    public func state(at time: Double) -> SocketState {
        states.last { $0.at <= time }?.state ?? states.first?.state ?? .close
    }

    /// The owners holding it at `time`. An owner removed at a sample was gone in it;
    /// an owner whose interval ends with the connection held it through its last sample.
    public func owners(at time: Double) -> [HistoricOwner] {
        owners.filter { owner in
            guard owner.from <= time else { return false }
            guard let to = owner.to else { return true }
            return time < to || (to == lastSeen && time <= to)
        }
    }
}

/// A process that held a connection, and when.
public struct HistoricOwner: Sendable {
    public var pid: Int32
    public var startTime: UInt64
    public var name: String
    public var fd: Int32
    public var from: Double
    public var to: Double?
    /// True when the owner was not read from /proc but inferred: the connection was
    /// accepted by a listener these processes hold.
    public var inferred = false
}

/// A period in which a socket's queues stayed non-empty, with the peaks seen.
public struct BacklogEpisode: Sendable {
    public var start: Double
    public var end: Double?
    public var peakRecvQ: UInt32
    public var peakSendQ: UInt32
}

/// A protocol and a state: what history counts sockets by.
public struct StateKey: Hashable, Sendable {
    public var proto: TransportProtocol
    public var state: SocketState

    public init(proto: TransportProtocol, state: SocketState) {
        self.proto = proto
        self.state = state
    }
}

/// The mean socket counts over one bucket of a state series.
public struct StateBucket: Sendable {
    /// Bucket start.
    public var start: Double
    /// Mean count of sockets by protocol and state over the bucket's samples.
    public var counts: [StateKey: Double]
}

/// One recorded sample.
public struct SampleRecord: Sendable {
    public var id: Int64
    public var takenAt: Double
    public var runID: Int64
    public var durationMs: Double
    public var sockets: Int
    public var problems: Bool
    public var counts: [Int: Int]
    /// Sampling slots skipped just before this sample (the previous one overran).
    public var missedSlots = 0
    /// Close events recorded with this sample, and the times the kernel said it
    /// dropped some since the previous one.
    public var closeEvents = 0
    public var closeOverflows = 0
}

/// One entry of the event feed.
public struct HistoryEvent: Sendable {
    /// Resume after this to continue the feed.
    public var cursor: EventCursor
    public var at: Double
    public var kind: EventKind
    public var connection: HistoricConnection
    /// The new state (state_changed, opened).
    public var state: SocketState?
    /// The owner added or removed.
    public var owner: HistoricOwner?
    /// The owners it had when it opened (`opened` only): with `owner_added` and
    /// `owner_removed` after it, the feed alone says who held it at every moment.
    public var owners: [HistoricOwner] = []
    /// `closed` only: it closed while netstatd was not sampling.
    public var closedDuringGap = false
    /// The queues (backlog began) or peaks (backlog ended).
    public var queues: (recv: UInt32, send: UInt32)?
}

/// A position in the event feed: (sample, connection, kind) of the last event
/// delivered, and the highest connection id whose opening was delivered.
public struct EventCursor: Sendable, Comparable {
    public var sample: Int64
    public var connection: Int64
    public var kind: Int64
    public var openedThrough: Int64

    /// The start of the feed.
    public static let start = EventCursor(sample: 0, connection: 0, kind: -1, openedThrough: 0)

    public init(sample: Int64, connection: Int64, kind: Int64, openedThrough: Int64) {
        self.sample = sample
        self.connection = connection
        self.kind = kind
        self.openedThrough = openedThrough
    }

    /// Parses the text form (`s.c.k.o`).
    public init?(text: String) {
        // Empty fields (`1..2.3`) are refused, not skipped.
        let parts = text.split(separator: ".", omittingEmptySubsequences: false).map { Int64($0) }
        // Ids are never negative; the kind is -1 only at the start of the feed.
        guard parts.count == 4, let sample = parts[0], let connection = parts[1], let kind = parts[2], let opened = parts[3],
              sample >= 0, connection >= 0, kind >= -1, opened >= 0 else { return nil }
        self.init(sample: sample, connection: connection, kind: kind, openedThrough: opened)
    }

    public var text: String { "\(sample).\(connection).\(kind).\(openedThrough)" }

    public static func < (a: EventCursor, b: EventCursor) -> Bool {
        (a.sample, a.connection, a.kind) < (b.sample, b.connection, b.kind)
    }
}

/// Read-only queries over the history file, on a reader's own connection.
/// Not thread-safe: one reader per thread (see `ReaderPool`).
public final class HistoryReader {
    let database: Database
    private var processCache: [Int64: (pid: Int32, startTime: UInt64, name: String)] = [:]
    private var sampleTimes: [Int64: Double] = [:]
    /// The last "present at" set worked out: pages of one window ask for it again.
    private var lastPresent: (sample: Int64, newest: Int64, ids: Set<Int64>)?

    /// A reader on `path`.
    public init(path: String) throws {
        database = try StoreFile.openForReading(path)
    }

    /// The last sample at or before `time`.
    public func sample(atOrBefore time: Double) throws -> SampleRecord? {
        let statement = try database.prepare("SELECT \(Self.sampleColumns) FROM samples WHERE taken_at_ms <= ? ORDER BY taken_at_ms DESC LIMIT 1")
        defer { statement.reset() }
        try statement.bind([.integer(Clock.milliseconds(time))])
        return try statement.step() ? sampleRecord(statement) : nil
    }

    /// The samples taken in [from, to], oldest first, at most `limit`.
    public func samples(from: Double, to: Double, limit: Int) throws -> [SampleRecord] {
        let statement = try database.prepare("SELECT \(Self.sampleColumns) FROM samples WHERE taken_at_ms >= ? AND taken_at_ms <= ? ORDER BY taken_at_ms LIMIT ?")
        defer { statement.reset() }
        try statement.bind([.integer(Clock.milliseconds(from)), .integer(Clock.milliseconds(to)), .integer(Int64(limit))])
        var result: [SampleRecord] = []
        while try statement.step() { result.append(try sampleRecord(statement)) }
        return result
    }

    static let sampleColumns = "id, taken_at_ms, run_id, duration_ms, sockets, problems, counts, missed_slots, close_events, close_overflows"

    private func sampleRecord(_ statement: Statement) throws -> SampleRecord {
        let row = try RowReader(statement)
        return SampleRecord(
            id: try row.int64("id"), takenAt: Clock.seconds(milliseconds: try row.int64("taken_at_ms")), runID: try row.int64("run_id"),
            durationMs: try row.double("duration_ms"), sockets: Int(try row.int64("sockets")), problems: try row.int64("problems") != 0,
            counts: StateCountsBlob.decode(try row.blob("counts")), missedSlots: Int(try row.int64("missed_slots")),
            closeEvents: Int(try row.int64("close_events")), closeOverflows: Int(try row.int64("close_overflows")))
    }

    /// The sample id of the first sample at or after `time` (nil when none).
    private func sampleID(atOrAfter time: Double) throws -> Int64? {
        try database.scalar("SELECT id FROM samples WHERE taken_at_ms >= ? ORDER BY taken_at_ms LIMIT 1", [.integer(Clock.milliseconds(time))])
    }

    /// The connections present in sample `sampleID`, as they stood then.
    public func connections(inSample sampleID: Int64) throws -> [HistoricConnection] {
        try load(ids: try presentIDs(atSample: sampleID).sorted(), eventsThrough: .sample(sampleID))
    }

    /// The connections present at any time in [from, to], after connection id `after`,
    /// at most `limit`, with their whole recorded history: those present at the
    /// window's first sample, and those opened during it (an id range).
    ///
    /// Connections seen only through their close event belong to the sample after
    /// their close; they are in the window when their close time is.
    ///
    /// `sampledOnly` leaves out those seen only through their close event: what was
    /// in some sample (state counts are of samples, and a busy host's short
    /// connections would be most of what is read).
    public func connections(from: Double, to: Double, after: Int64, limit: Int, sampledOnly: Bool = false) throws -> [HistoricConnection] {
        try load(ids: try connectionIDs(from: from, to: to, after: after, limit: limit, sampledOnly: sampledOnly), eventsThrough: .all)
    }

    /// The ids of `connections(from:to:after:limit:sampledOnly:)`, ascending.
    func connectionIDs(from: Double, to: Double, after: Int64, limit: Int, sampledOnly: Bool = false) throws -> [Int64] {
        let first = try sampleID(atOrAfter: from)
        let last = try sample(atOrBefore: to)?.id
        guard first != nil || last != nil else { return [] }
        let sampledInside = first != nil && last != nil && first! <= last!
        var ids = Set<Int64>()
        if sampledInside { ids = try presentIDs(atSample: first!) } else if let last { ids = try presentIDs(atSample: last) }
        ids = ids.filter { $0 > after }
        // Ids grow with samples: those opened from the sample before `first` up to the
        // sample after `last`, kept by when they were seen or closed.
        let lowBound = try first.map { try through(previousSampleID(before: $0) ?? 0) } ?? (try through(last!))
        let firstThrough = try first.map(through) ?? lowBound
        let lastThrough = try last.map(through) ?? lowBound
        let highBound = try last.map { try nextSampleID(after: $0).map(through) ?? lastThrough } ?? firstThrough
        if highBound > max(after, lowBound) {
            let statement = try database.prepare("""
                SELECT id FROM connections WHERE id > ?1 AND id <= ?2 AND NOT (?9 AND origin & 1) AND (
                    (id <= ?3 AND ((origin & 1 AND closed_at_ms BETWEEN ?5 AND ?6) OR (NOT origin & 1 AND ?7)))
                    OR (id > ?3 AND id <= ?4)
                    OR (id > ?4 AND origin & 1 AND closed_at_ms BETWEEN ?5 AND ?6))
                ORDER BY id LIMIT ?8
                """)
            defer { statement.reset() }
            try statement.bind([.integer(max(after, lowBound)), .integer(highBound), .integer(firstThrough), .integer(lastThrough),
                                .integer(Clock.milliseconds(from)), .integer(Clock.milliseconds(to)), .integer(sampledInside ? 1 : 0),
                                .integer(Int64(limit)), .integer(sampledOnly ? 1 : 0)])
            while try statement.step() { ids.insert(statement.int64(0)) }
            if !sampledOnly {
                ids.formUnion(try ShortConnectionTable.ids(
                    closedFrom: Clock.milliseconds(from), to: Clock.milliseconds(to), low: lowBound, high: highBound,
                    after: after, limit: limit, in: database))
            }
        }
        return Array(ids.sorted().prefix(limit))
    }

    private func previousSampleID(before id: Int64) throws -> Int64? {
        try database.scalar("SELECT max(id) FROM samples WHERE id < ?", [.integer(id)])
    }

    private func nextSampleID(after id: Int64) throws -> Int64? {
        try database.scalar("SELECT min(id) FROM samples WHERE id > ?", [.integer(id)])
    }

    /// The highest connection id opened by sample `id`.
    private func through(_ id: Int64) throws -> Int64 {
        try database.scalar("SELECT connections_through FROM samples WHERE id = ?", [.integer(id)]) ?? 0
    }

    /// Ids of the connections present in sample `id`: the newest keyframe at or before
    /// it, plus the ids opened since (a range), minus those closed since (from `changes`).
    func presentIDs(atSample id: Int64) throws -> Set<Int64> {
        // Reusable while no newer sample was written (a sample in progress can close
        // connections of the one asked for only by being newer).
        let newest = try database.scalar("SELECT max(id) FROM samples") ?? 0
        if let cached = lastPresent, cached.sample == id, cached.newest == newest { return cached.ids }
        let ids = try replayPresent(atSample: id)
        lastPresent = (id, newest, ids)
        return ids
    }

    private func replayPresent(atSample id: Int64) throws -> Set<Int64> {
        var keyframe: Int64 = 0
        var present = Set<Int64>()
        let frame = try database.prepare("SELECT sample_id, ids FROM present WHERE sample_id <= ? ORDER BY sample_id DESC LIMIT 1")
        try frame.bind([.integer(id)])
        do {
            defer { frame.reset() }
            if try frame.step() {
                keyframe = frame.int64(0)
                present = Set(PresentSet.decode(frame.blob(1)))
            }
        }
        let from = keyframe == 0 ? 0 : try through(keyframe)
        let to = try through(id)
        if to > from {
            let opened = try database.prepare("SELECT id FROM connections WHERE id > ? AND id <= ?")
            defer { opened.reset() }
            try opened.bind([.integer(from), .integer(to)])
            while try opened.step() { present.insert(opened.int64(0)) }
        }
        let closes = try database.prepare("SELECT data FROM changes WHERE sample_id > ? AND sample_id <= ? ORDER BY sample_id")
        defer { closes.reset() }
        try closes.bind([.integer(keyframe), .integer(id)])
        while try closes.step() {
            for entry in ChangeLog.decodeFeed(closes.blob(0)) where entry.kind == .closed {
                present.remove(entry.connection)
            }
        }
        return present
    }

    /// Loads the rows of `ids` with one statement (the ids travel as one JSON array:
    /// no statement per list length, no parameter limit).
    /// Ids not in `connections` are looked for among the short connections' blocks.
    private func load(ids: [Int64], eventsThrough: EventsThrough) throws -> [HistoricConnection] {
        guard !ids.isEmpty else { return [] }
        let statement = try database.prepare(
            "SELECT \(Self.connectionColumns) FROM connections WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id")
        try statement.bind([.text("[" + ids.map(String.init).joined(separator: ",") + "]")])
        let rows = try loadConnections(statement, eventsThrough: eventsThrough)
        guard rows.count < ids.count else { return rows }
        let found = Set(rows.map(\.id))
        let shorts = try ShortConnectionTable.load(ids.filter { !found.contains($0) }, from: database)
        guard !shorts.isEmpty else { return rows }
        var merged = rows
        for (id, short) in shorts { merged.append(try historic(short.connection, id: id)) }
        return merged.sorted { $0.id < $1.id }
    }

    /// A short connection as history serves every connection: seen only at its close,
    /// so it opened and closed then as far as anyone can tell (`firstSeenKnown` false).
    private func historic(_ short: ShortConnection, id: Int64) throws -> HistoricConnection {
        let closedAt = Clock.seconds(milliseconds: short.closedAtMs)
        var connection = HistoricConnection(
            id: id, proto: short.proto, family: short.family, local: short.local, remote: short.remote, uid: 0, inode: 0,
            cookie: short.cookie, firstSeen: closedAt, lastSeen: closedAt, closedDuringGap: false,
            states: [(closedAt, short.state)], owners: [], backlog: [])
        connection.netns = short.netns
        connection.origin = short.owners.isEmpty ? [.closeEvent] : [.closeEvent, .ownerInferred]
        connection.firstSeenKnown = false
        connection.closedAt = closedAt
        connection.totals = short.totals
        connection.cgroup = short.cgroup
        for held in short.owners {
            var owner = try owner(held.process, held.fd, from: closedAt)
            owner.to = closedAt
            owner.inferred = true
            connection.owners.append(owner)
        }
        return connection
    }

    static let connectionColumns = "id, kind, local_addr, local_port, remote_addr, remote_port, uid, inode, cookie, first_sample, last_sample, state, process_id, fd, log, closed_in_gap, origin, closed_at_ms, totals, netns"

    /// Which logged changes a loaded connection includes.
    enum EventsThrough {
        /// Those up to and including sample `id`.
        case sample(Int64)
        /// Those of its first sample only: the connection as it opened.
        case opening
        /// All of them.
        case all

        func includes(_ sample: Int64, firstSample: Int64) -> Bool {
            switch self {
            case .sample(let id): return sample <= id
            case .opening: return sample <= firstSample
            case .all: return true
            }
        }
    }

    private struct ConnectionRow {
        var connection: HistoricConnection
        var firstOwner: (process: Int64, fd: Int32)?
        var firstSample: Int64
        var lastSample: Int64?
        var log: [UInt8]
    }

    private func loadConnections(_ statement: Statement, eventsThrough: EventsThrough) throws -> [HistoricConnection] {
        var rows: [ConnectionRow] = []
        do {
            // Reset on every path: a statement left mid-result holds a read transaction,
            // which stops WAL checkpoints.
            defer { statement.reset() }
            while try statement.step() {
                let row = try RowReader(statement)
                let (proto, family) = ConnectionKind.decode(try row.int64("kind"))
                var connection = HistoricConnection(
                    id: try row.int64("id"), proto: proto, family: family,
                    local: Endpoint(address: AddressBytes.decode(try row.blob("local_addr")), port: UInt16(truncatingIfNeeded: try row.int64("local_port"))),
                    remote: Endpoint(address: AddressBytes.decode(try row.blob("remote_addr")), port: UInt16(truncatingIfNeeded: try row.int64("remote_port"))),
                    uid: UInt32(truncatingIfNeeded: try row.int64("uid")), inode: UInt64(bitPattern: try row.int64("inode")),
                    cookie: try row.optionalInt64("cookie").map { UInt64(bitPattern: $0) },
                    firstSeen: 0, lastSeen: nil, closedDuringGap: try row.int64("closed_in_gap") != 0,
                    states: [(0, SocketState(rawValue: UInt8(truncatingIfNeeded: try row.int64("state"))) ?? .close)],
                    owners: [], backlog: [])
                connection.origin = ConnectionOrigin(rawValue: try row.int64("origin"))
                connection.netns = try row.optionalInt64("netns").map { UInt64(bitPattern: $0) }
                connection.closedAt = try row.optionalInt64("closed_at_ms").map { Clock.seconds(milliseconds: $0) }
                connection.totals = ConnectionTotals.decode(try row.blob("totals"))
                var owner: (Int64, Int32)?
                if let process = try row.optionalInt64("process_id"), let fd = try row.optionalInt64("fd") {
                    owner = OwnerCode.unpack(OwnerCode.pack(process: process, fd: Int32(truncatingIfNeeded: fd)))
                }
                rows.append(ConnectionRow(connection: connection, firstOwner: owner, firstSample: try row.int64("first_sample"),
                                          lastSample: try row.optionalInt64("last_sample"), log: try row.blob("log")))
            }
        }
        var result: [HistoricConnection] = []
        result.reserveCapacity(rows.count)
        for row in rows {
            var connection = row.connection
            let firstSample = row.firstSample
            connection.firstSeen = try time(ofSample: firstSample)
            if let last = row.lastSample { connection.lastSeen = try time(ofSample: last) }
            if let closedAt = connection.closedAt { connection.lastSeen = closedAt }
            if connection.origin.contains(.closeEvent) {
                connection.firstSeen = connection.closedAt ?? connection.firstSeen
                connection.firstSeenKnown = false
            }
            connection.states = [(connection.firstSeen, row.connection.states[0].state)]
            var openOwners: [Int64: Int] = [:]  // packed owner -> index in owners
            if let (process, fd) = row.firstOwner {
                connection.owners.append(try owner(process, fd, from: connection.firstSeen))
                connection.owners[0].inferred = connection.origin.contains(.ownerInferred)
                openOwners[OwnerCode.pack(process: process, fd: fd)] = 0
            }
            for entry in ChangeLog.decodeConnection(row.log, firstSample: firstSample) where eventsThrough.includes(entry.sample, firstSample: firstSample) {
                let at = try time(ofSample: entry.sample)
                let value = entry.value ?? 0
                switch entry.kind {
                case .stateChanged:
                    connection.states.append((at, SocketState(rawValue: UInt8(truncatingIfNeeded: value)) ?? .close))
                case .ownerAdded:
                    openOwners[value] = connection.owners.count
                    let (process, fd) = OwnerCode.unpack(value)
                    connection.owners.append(try owner(process, fd, from: connection.origin.contains(.closeEvent) ? connection.firstSeen : at))
                    connection.owners[connection.owners.count - 1].inferred = connection.origin.contains(.ownerInferred) && entry.sample == firstSample
                case .ownerRemoved:
                    if let index = openOwners.removeValue(forKey: value) { connection.owners[index].to = at }
                case .backlogBegan:
                    let queues = QueueCode.unpack(value)
                    connection.backlog.append(BacklogEpisode(start: at, end: nil, peakRecvQ: queues.recv, peakSendQ: queues.send))
                case .queuesChanged:
                    let queues = QueueCode.unpack(value)
                    connection.queues.append((at, queues.recv, queues.send))
                case .backlogEnded:
                    if let index = connection.backlog.lastIndex(where: { $0.end == nil }) {
                        let peaks = QueueCode.unpack(value)
                        connection.backlog[index].end = at
                        connection.backlog[index].peakRecvQ = peaks.recv
                        connection.backlog[index].peakSendQ = peaks.send
                    }
                default:
                    break
                }
            }
            // One rule on both sides of a connection: an owner still holding it when it
            // closed held it until its last sample.
            if let last = connection.lastSeen, eventsThrough.includes(row.lastSample ?? Int64.max, firstSample: firstSample) {
                for index in connection.owners.indices where connection.owners[index].to == nil {
                    connection.owners[index].to = last
                }
            }
            result.append(connection)
        }
        return result
    }

    private func owner(_ process: Int64, _ fd: Int32, from: Double) throws -> HistoricOwner {
        let info = try processInfo(process)
        return HistoricOwner(pid: info.pid, startTime: info.startTime, name: info.name, fd: fd, from: from, to: nil)
    }

    /// The name of the process with row id `id`.
    func processName(_ id: Int64) throws -> String {
        try processInfo(id).name
    }

    private func processInfo(_ id: Int64) throws -> (pid: Int32, startTime: UInt64, name: String) {
        if let cached = processCache[id] { return cached }
        let statement = try database.prepare("SELECT pid, start_time, name FROM processes WHERE id = ?")
        defer { statement.reset() }
        try statement.bind([.integer(id)])
        guard try statement.step() else {
            throw StoreError.inconsistent("process \(id) is referenced by a connection but not recorded")
        }
        let info: (Int32, UInt64, String) = (Int32(truncatingIfNeeded: statement.int64(0)), UInt64(bitPattern: statement.int64(1)), statement.text(2))
        processCache[id] = info
        return info
    }

    private func time(ofSample id: Int64) throws -> Double {
        if let cached = sampleTimes[id] { return cached }
        let statement = try database.prepare("SELECT taken_at_ms FROM sample_times WHERE id = ?")
        defer { statement.reset() }
        try statement.bind([.integer(id)])
        guard try statement.step() else {
            throw StoreError.inconsistent("sample \(id) is referenced but its time is not recorded")
        }
        let value = Clock.seconds(milliseconds: statement.int64(0))
        if sampleTimes.count > 100_000 { sampleTimes.removeAll(keepingCapacity: true) }
        sampleTimes[id] = value
        return value
    }

    /// State counts over [from, to] in buckets of `step` seconds: each bucket's mean
    /// count per (proto, state), from the finest tier that covers the window.
    public func stateSeries(from: Double, to: Double, step: Double) throws -> (tier: String, buckets: [StateBucket]) {
        let oldestRaw = try oldestSample() ?? .infinity
        let tier: (name: String, sql: String)
        if from >= oldestRaw || step < 60 {
            tier = ("raw", "SELECT taken_at_ms / 1000.0, 1, counts FROM samples WHERE taken_at_ms >= ? * 1000 AND taken_at_ms <= ? * 1000 ORDER BY taken_at_ms")
        } else if step < 3600 {
            tier = ("1m", "SELECT bucket, samples, sums FROM state_counts_1m WHERE bucket >= ? AND bucket <= ? ORDER BY bucket")
        } else {
            tier = ("1h", "SELECT bucket, samples, sums FROM state_counts_1h WHERE bucket >= ? AND bucket <= ? ORDER BY bucket")
        }
        let statement = try database.prepare(tier.sql)
        defer { statement.reset() }
        try statement.bind([.real(from), .real(to)])
        var sums: [Int64: (samples: Int, counts: [Int: Int])] = [:]
        while try statement.step() {
            let bucket = Int64(((statement.double(0) - from) / step).rounded(.down))
            var entry = sums[bucket] ?? (0, [:])
            entry.samples += statement.int(1)
            for (key, count) in StateCountsBlob.decode(statement.blob(2)) { entry.counts[key, default: 0] += count }
            sums[bucket] = entry
        }
        let buckets = sums.keys.sorted().map { bucket -> StateBucket in
            let entry = sums[bucket]!
            var means: [StateKey: Double] = [:]
            for (key, sum) in entry.counts {
                let (proto, state) = StateCountsBlob.split(key)
                means[StateKey(proto: proto, state: state)] = Double(sum) / Double(max(1, entry.samples))
            }
            return StateBucket(start: from + Double(bucket) * step, counts: means)
        }
        return (tier.name, buckets)
    }

    /// Up to `limit` events after `cursor`, oldest first: openings (from `connections`
    /// and the short connections' blocks) and the blocks' closings, merged with the
    /// sample rows of `changes` by (sample, connection, kind). Each source gives its
    /// first `limit` past the cursor, so the first `limit` of the merge are complete.
    public func events(after cursor: EventCursor, limit: Int) throws -> [HistoryEvent] {
        var merged: [(key: EventCursor, kind: EventKind, value: Int64?)] = []
        let opened = try database.prepare("SELECT id, first_sample FROM connections WHERE id > ? ORDER BY id LIMIT ?")
        try opened.bind([.integer(cursor.openedThrough), .integer(Int64(limit))])
        do {
            defer { opened.reset() }
            while try opened.step() {
                merged.append((EventCursor(sample: opened.int64(1), connection: opened.int64(0), kind: 0, openedThrough: opened.int64(0)), .opened, nil))
            }
        }
        for (id, sample) in try ShortConnectionTable.openings(after: cursor.openedThrough, limit: limit, in: database) {
            merged.append((EventCursor(sample: sample, connection: id, kind: 0, openedThrough: id), .opened, nil))
        }
        for key in try ShortConnectionTable.closings(after: cursor, limit: limit, in: database) {
            merged.append((key, .closed, nil))
        }
        // Sample rows in order until `limit` events past the cursor are in hand.
        let rows = try database.prepare("SELECT sample_id, data FROM changes WHERE sample_id >= ? ORDER BY sample_id")
        try rows.bind([.integer(cursor.sample)])
        do {
            defer { rows.reset() }
            var stored = 0
            while stored < limit, try rows.step() {
                let sample = rows.int64(0)
                let entries = ChangeLog.decodeFeed(rows.blob(1))
                for (entry, keyKind) in zip(entries, ChangeLog.feedKeyKinds(entries)) {
                    let key = EventCursor(sample: sample, connection: entry.connection, kind: keyKind, openedThrough: 0)
                    guard cursor < key else { continue }
                    merged.append((key, entry.kind, entry.value))
                    stored += 1
                }
            }
        }
        merged.sort { $0.key < $1.key }
        var result: [HistoryEvent] = []
        var position = cursor
        var connections: [Int64: (connection: HistoricConnection, firstSample: Int64)] = [:]
        for entry in merged.prefix(limit) {
            position.sample = entry.key.sample
            position.connection = entry.key.connection
            position.kind = entry.key.kind
            if entry.kind == .opened { position.openedThrough = max(position.openedThrough, entry.key.connection) }
            if connections[entry.key.connection] == nil {
                connections[entry.key.connection] = try openingConnection(id: entry.key.connection)
            }
            guard let (connection, firstSample) = connections[entry.key.connection] else { continue }
            // The owners it opened with travel in `opened`; the additions logged in its
            // first sample are those same owners, not changes.
            if entry.kind == .ownerAdded && entry.key.sample == firstSample { continue }
            let at = try time(ofSample: entry.key.sample)
            var event = HistoryEvent(cursor: position, at: at, kind: entry.kind, connection: connection)
            let value = entry.value ?? 0
            switch entry.kind {
            case .opened:
                event.state = connection.states.first?.state
                event.owners = connection.owners
            case .stateChanged: event.state = SocketState(rawValue: UInt8(truncatingIfNeeded: value))
            case .ownerAdded, .ownerRemoved:
                let (process, fd) = OwnerCode.unpack(value)
                event.owner = try owner(process, fd, from: at)
            case .backlogBegan, .backlogEnded: event.queues = QueueCode.unpack(value)
            case .closed: event.closedDuringGap = entry.value == ChangeLog.closedDuringGap
            case .queuesChanged: continue  // never in the feed (see EventKind)
            }
            result.append(event)
        }
        // A page whose every event was part of an opening already served: go on from
        // past it, so an empty page always means the end of the feed.
        if result.isEmpty && position != cursor {
            return try events(after: position, limit: limit)
        }
        return result
    }

    /// A connection as it opened (owners of its first sample), and that sample's id.
    private func openingConnection(id: Int64) throws -> (HistoricConnection, Int64)? {
        let statement = try database.prepare("SELECT \(Self.connectionColumns) FROM connections WHERE id = ?")
        try statement.bind([.integer(id)])
        guard let connection = try loadConnections(statement, eventsThrough: .opening).first else {
            guard let short = try ShortConnectionTable.load([id], from: database)[id] else { return nil }
            return (try historic(short.connection, id: id), short.sample)
        }
        let first = try database.scalar("SELECT first_sample FROM connections WHERE id = ?", [.integer(id)]) ?? 0
        return (connection, first)
    }

    /// The counters recorded, for validation and suggestions.
    public func counterKeys() throws -> [CounterKey] {
        let statement = try database.prepare("SELECT name FROM counter_names ORDER BY name")
        defer { statement.reset() }
        var keys: [CounterKey] = []
        while try statement.step() {
            if let key = CounterKey(storageName: statement.text(0)) { keys.append(key) }
        }
        return keys
    }

    /// Rates of `keys` over [from, to] in buckets of `step` seconds. Replays the
    /// packed rows from the last keyframe before the window.
    public func counterSeries(_ keys: [CounterKey], from: Double, to: Double, step: Double) throws -> [CounterKey: [CounterPoint]] {
        var ids: [Int64: CounterKey] = [:]
        for key in keys {
            if let id = try database.scalar("SELECT id FROM counter_names WHERE name = ?", [.text(key.storageName)]) { ids[id] = key }
        }
        guard !ids.isEmpty, let first = try sampleID(atOrAfter: from),
              let last = try sample(atOrBefore: to)?.id, first <= last else { return [:] }
        // The keyframe at or before the window's first sample; the sample before the
        // window gives the baseline for the first bucket's rate.
        let start = try database.scalar("""
            SELECT max(sample_id) FROM counter_samples WHERE sample_id < ? AND substr(data, 1, 1) = x'01'
            """, [.integer(first)]) ?? first
        let statement = try database.prepare("""
            SELECT c.sample_id, s.taken_at_ms / 1000.0, c.data FROM counter_samples c JOIN samples s ON s.id = c.sample_id
            WHERE c.sample_id >= ? AND c.sample_id <= ? ORDER BY c.sample_id
            """)
        defer { statement.reset() }
        try statement.bind([.integer(start), .integer(last)])
        var values: [Int64: Int64] = [:]
        var previousAt: Double?
        var buckets: [Int64: [CounterKey: (increase: UInt64, value: UInt64, resets: Int)]] = [:]
        while try statement.step() {
            let at = statement.double(1)
            let decoded = CounterLog.decode(statement.blob(2))
            var changed: [Int64: Int64] = [:]
            for (id, value) in decoded.values where ids[id] != nil { changed[id] = value }
            if at >= from, previousAt != nil {
                let bucket = Int64(((at - from) / step).rounded(.down))
                for (id, name) in ids {
                    guard let stored = changed[id] ?? values[id] else { continue }
                    let value = UInt64(bitPattern: stored)
                    var entry = buckets[bucket]?[name] ?? (0, value, 0)
                    if let old = values[id] {
                        let increase = CounterIncrease(from: UInt64(bitPattern: old), to: value)
                        entry.increase &+= increase.amount
                        if increase.reset { entry.resets += 1 }
                    }
                    entry.value = value
                    buckets[bucket, default: [:]][name] = entry
                }
            }
            for (id, value) in changed { values[id] = value }
            previousAt = at
        }
        var series: [CounterKey: [CounterPoint]] = [:]
        for bucket in buckets.keys.sorted() {
            let start = from + Double(bucket) * step
            let width = min(step, to - start)
            for (name, entry) in buckets[bucket]! {
                series[name, default: []].append(CounterPoint(at: start, value: entry.value, rate: width > 0 ? Double(entry.increase) / width : nil, resets: entry.resets))
            }
        }
        return series
    }

    /// Figures for /api/v1/status: rows, oldest sample, newest sample.
    public func figures() throws -> (samples: Int64, connections: Int64, oldest: Double?, newest: Double?) {
        // max - min of rowids, not count(*): a count scans the whole table.
        ((try database.scalar("SELECT max(id) - min(id) + 1 FROM samples")) ?? 0,
         try connectionCount(),
         try oldestSample(),
         try database.scalar("SELECT max(taken_at_ms) FROM samples").map { Clock.seconds(milliseconds: $0) })
    }

    /// Connection ids in history, sampled and short: the span of the ids kept.
    private func connectionCount() throws -> Int64 {
        let lowest = [try database.scalar("SELECT min(id) FROM connections"), try ShortConnectionTable.firstID(in: database)].compactMap { $0 }.min()
        let highest = max(try database.scalar("SELECT max(id) FROM connections") ?? 0, try ShortConnectionTable.lastID(in: database))
        guard let lowest else { return 0 }
        return highest - lowest + 1
    }
}
