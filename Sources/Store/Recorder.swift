import Glibc
public import Sampling

/// Writes each snapshot into the history file as changes: a connection row when a
/// socket first appears, events when its state, owners or backlog change or when it
/// is gone, and one row per sample. Steady sockets cost nothing per sample.
///
/// The single writer (WAL mode, one transaction per sample). Not thread-safe: the
/// sampler thread calls `record` serially.
public final class Recorder {
    /// A connection that was present in the previous sample.
    private struct OpenConnection {
        var id: Int64
        var firstSample: Int64
        var state: SocketState
        var owners: Set<OwnerKey>
        /// The backlog episode in progress: its peaks.
        var backlog: (recv: UInt32, send: UInt32)?
        /// The queues last recorded (`queuesChanged`): (0, 0) until one is.
        var queues: (recv: UInt32, send: UInt32) = (0, 0)
        var seenIn: Int64
        /// The last counters a sample or close event gave (written when it closes).
        var totals: ConnectionTotals? = nil
        /// Its close event, received while it was still in a sample (closed during or
        /// right after the dump): the close time once it is gone.
        var closedAt: Double? = nil
        /// Its protocol and endpoints, to recognise its TIME_WAIT successor.
        var endpoints: EndpointsKey
        /// When it was first seen, and its first owner's name: what its flow rollup needs.
        var firstSeen: Double?
        var process: String?
    }

    private struct OwnerKey: Hashable {
        var process: Int64
        var fd: Int32
        var packed: Int64 { OwnerCode.pack(process: process, fd: fd) }
    }

    private struct ProcessKey: Hashable {
        var pid: Int32
        var startTime: UInt64
    }

    private let database: Database
    private let lock: WriterLock
    private let runID: Int64
    /// True until the first sample of this run is written: what it finds gone closed
    /// while netstatd was not sampling.
    private var firstOfRun = true
    private var open: [ConnectionKey: OpenConnection] = [:]
    private var processIDs: [ProcessKey: Int64] = [:]
    /// Connections left open by the previous run: closed by the first sample of this one.
    private var orphans: [Int64]
    private var previousSample: Int64?
    /// When `previousSample` was taken: a connection gone without a close event ended then.
    private var previousSampleAt: Double?
    private let retention: Retention
    private var samplesSinceRetention = 0
    /// Events of the sample being written: for its `changes` row, and per connection
    /// for each connection's `log` (with that connection's first sample).
    private var feed: [ChangeLog.FeedEntry] = []
    /// Counter name -> id, and the values last written (for "only what changed").
    private var counterIDs: [CounterKey: Int64] = [:]
    private var lastCounters: [Int64: Int64] = [:]
    private var samplesSinceKeyframe = Int.max
    /// The hour of grouped state counts being summed (written every minute and when the hour ends).
    private var stateGroups: StateGroupsHour?
    /// Highest connection id written, and samples since the last `present` keyframe.
    private var connectionsThrough: Int64 = 0
    private var samplesSincePresent = Int.max
    /// Feed entries written since the last `present` keyframe: a reader replays them.
    private var entriesSincePresent = 0
    private var logs: [Int64: (firstSample: Int64, bytes: [UInt8])] = [:]

    /// Opens (or creates) the history at `path` and starts a new run. Takes the
    /// file's writer lock first (`StoreError.locked` names the holder).
    ///
    /// Continuity: in the same boot (`bootID` equal to the last run's), connections
    /// the previous run left open are picked up again: those still there in the first
    /// sample keep their rows, the rest are closed at the previous run's last sample
    /// and marked as closed during the gap. After a reboot (or without a boot id)
    /// every one is closed at the last sample before it.
    public init(path: String, version: String, retention: Retention = Retention(), bootID: String? = BootID.current()) throws {
        lock = try WriterLock(path: path)
        do {
            database = try StoreFile.openForWriting(path)
        } catch {
            lock.release()
            throw error
        }
        self.retention = retention
        let lastSample = try database.scalar("SELECT max(id) FROM samples")
        let lastBoot = try database.texts("SELECT coalesce(boot_id, '') FROM runs ORDER BY id DESC LIMIT 1").first
        if let bootID, lastBoot == bootID {
            open = try Self.resume(database, seenIn: lastSample ?? 0)
            orphans = []
        } else {
            var orphans: [Int64] = []
            let statement = try database.prepare("SELECT id FROM connections WHERE last_sample IS NULL")
            while try statement.step() { orphans.append(statement.int64(0)) }
            statement.reset()
            self.orphans = orphans
            if let lastSample, !orphans.isEmpty {
                try database.prepare("UPDATE connections SET last_sample = ?, closed_in_gap = 1 WHERE last_sample IS NULL").run([.integer(lastSample)])
            }
        }
        try database.prepare("INSERT INTO runs(started_at, version, boot_id) VALUES(?, ?, ?)")
            .run([.real(Clock.wallSeconds()), .text(version), bootID.map { .text($0) } ?? .null])
        runID = database.lastInsertRowID
        previousSample = lastSample
        previousSampleAt = try database.scalar("SELECT max(taken_at_ms) FROM samples").map { Clock.seconds(milliseconds: $0) }
        // Ids never go back, even past pruned rows: the feed's cursors and the
        // samples' `connections_through` hold the highest ever given, and a reused id
        // would be skipped by a reader already past it.
        connectionsThrough = max(
            try database.scalar("SELECT max(id) FROM connections") ?? 0, try ShortConnectionTable.lastID(in: database),
            try database.scalar("SELECT max(connections_through) FROM samples") ?? 0,
            (try database.scalar("SELECT max(from_id) FROM short_closings_derived") ?? 0) - 1)
        try FlowBackfill.run(database)
    }

    deinit {
        // The lock outlives the connection: see WriterLock.
        database.close()
        lock.release()
    }

    /// The connections a previous run left open, as they stood at its last sample:
    /// state, owners and backlog episode replayed from each row's log.
    private static func resume(_ database: Database, seenIn: Int64) throws -> [ConnectionKey: OpenConnection] {
        var open: [ConnectionKey: OpenConnection] = [:]
        let statement = try database.prepare("""
            SELECT id, kind, local_addr, local_port, remote_addr, remote_port, cookie, first_sample, state, process_id, fd, log, netns,
                   (SELECT taken_at_ms FROM sample_times WHERE sample_times.id = first_sample) AS first_ms,
                   (SELECT name FROM processes WHERE processes.id = process_id) AS process_name
            FROM connections WHERE last_sample IS NULL
            """)
        defer { statement.reset() }
        while try statement.step() {
            let row = try RowReader(statement)
            let (proto, _) = ConnectionKind.decode(try row.int64("kind"))
            let first = try row.int64("first_sample")
            var state = SocketState(rawValue: UInt8(truncatingIfNeeded: try row.int64("state"))) ?? .close
            var owners = Set<OwnerKey>()
            if let process = try row.optionalInt64("process_id"), let fd = try row.optionalInt64("fd") {
                owners.insert(OwnerKey(process: process, fd: Int32(truncatingIfNeeded: fd)))
            }
            var backlog: (recv: UInt32, send: UInt32)?
            var queues: (recv: UInt32, send: UInt32) = (0, 0)
            for entry in ChangeLog.decodeConnection(try row.blob("log"), firstSample: first) {
                let value = entry.value ?? 0
                switch entry.kind {
                case .stateChanged: state = SocketState(rawValue: UInt8(truncatingIfNeeded: value)) ?? state
                case .ownerAdded: let (p, fd) = OwnerCode.unpack(value); owners.insert(OwnerKey(process: p, fd: fd))
                case .ownerRemoved: let (p, fd) = OwnerCode.unpack(value); owners.remove(OwnerKey(process: p, fd: fd))
                case .backlogBegan: backlog = QueueCode.unpack(value)
                case .backlogEnded: backlog = nil
                case .queuesChanged: queues = QueueCode.unpack(value)
                case .opened, .closed: break
                }
            }
            let local = Endpoint(address: AddressBytes.decode(try row.blob("local_addr")), port: UInt16(truncatingIfNeeded: try row.int64("local_port")))
            let remote = Endpoint(address: AddressBytes.decode(try row.blob("remote_addr")), port: UInt16(truncatingIfNeeded: try row.int64("remote_port")))
            let netns = try row.optionalInt64("netns").map { UInt64(bitPattern: $0) }
            let key = ConnectionKey(netns: netns, cookie: try row.optionalInt64("cookie").map { UInt64(bitPattern: $0) }, proto: proto, local: local, remote: remote)
            open[key] = OpenConnection(id: try row.int64("id"), firstSample: first, state: state, owners: owners, backlog: backlog, queues: queues, seenIn: seenIn,
                                       endpoints: EndpointsKey(netns: netns, proto: proto, local: local, remote: remote),
                                       firstSeen: try row.optionalInt64("first_ms").map { Clock.seconds(milliseconds: $0) },
                                       process: try row.optionalText("process_name"))
        }
        return open
    }

    /// The database connection, for status figures (size, rows) read by the writer's thread.
    public var path: String { database.path }

    /// Records one snapshot in one transaction. On failure (disk full) nothing of the
    /// sample is written and the in-memory state is unchanged, so the next call
    /// records the difference against the last sample that was written.
    ///
    /// `missedSlots` counts the sampling slots skipped before this sample because the
    /// previous one overran the interval (kept with the sample, shown as a gap).
    ///
    /// `closeEvents` are the kernel's close events received since the last sample:
    /// a connection gone from this sample closes at its event's time with its final
    /// counters, and a socket that lived and died between two samples gets an entry
    /// of its own in the sample's packed block (`ShortConnection`; served with
    /// `ConnectionOrigin.closeEvent`). `closeOverflows` counts the times the
    /// kernel said it dropped events meanwhile.
    public func record(
        _ snapshot: Snapshot, counters: [CounterKey: UInt64] = [:], missedSlots: Int = 0,
        closeEvents: [CloseEvent] = [], closeOverflows: Int = 0
    ) throws {
        // The open connections move into `working` (no copy: 10,000 of them copied
        // and retained every sample was a third of its time). If the sample cannot be
        // written, they are read back as the file has them (`restoreOpen`).
        var working = open
        open = [:]
        var workingProcesses = processIDs
        var workingCounterIDs = counterIDs
        var writtenCounters = lastCounters
        let keyframe = samplesSinceKeyframe >= CounterLog.keyframeEvery
        // Counted once: the sample row and both downsampled tiers use them.
        let stateCounts = StateCountsBlob.counts(snapshot.sockets)
        var through = connectionsThrough
        feed.removeAll(keepingCapacity: true)
        logs.removeAll(keepingCapacity: true)
        let written: Int64
        var wroteKeyframe = false
        var feedCount = 0
        do {
        written = try database.transaction { () -> Int64 in
            let sampleID = try insertSample(snapshot, counts: stateCounts, missedSlots: missedSlots,
                                            closeEvents: closeEvents.count, closeOverflows: closeOverflows)
            // The newest event per socket; what a sampled socket does not claim was a
            // socket too short to be sampled.
            // The close-event reader listens in netstatd's own namespace.
            let ownNetns = snapshot.namespaces.first { $0.isOwn }?.inode
            // By index into `closeEvents`: copying events into tables (each holds a
            // socket) was most of a sample's cost under churn.
            func netns(_ closed: CloseEvent) -> UInt64? { closed.socket.netns ?? ownNetns }
            var unclaimed: [ConnectionKey: Int] = [:]
            unclaimed.reserveCapacity(closeEvents.count)
            for index in closeEvents.indices {
                let socket = closeEvents[index].socket
                unclaimed[ConnectionKey(netns: netns(closeEvents[index]), cookie: socket.cookie, proto: socket.proto,
                                        local: socket.local, remote: socket.remote)] = index
            }
            // A namespace not read this time (it refused, or could not be entered) has
            // not lost its sockets: they are kept open, not closed.
            let unread = Set(snapshot.namespaces.filter { $0.unreadReason != nil }.map(\.inode))
            // A TCP socket entering TIME_WAIT is freed (its close event comes) and a
            // TIME_WAIT socket with a new cookie takes its place: the same connection,
            // found by its endpoints among those gone from this sample or closed by an event.
            // Built on first need (a new TIME_WAIT socket): most samples have none.
            var goneIndex: [EndpointsKey: ConnectionKey]?
            func goneByEndpoints(_ working: [ConnectionKey: OpenConnection]) -> [EndpointsKey: ConnectionKey] {
                if let goneIndex { return goneIndex }
                let present = Set(snapshot.sockets.lazy.map(ConnectionKey.init))
                var index: [EndpointsKey: ConnectionKey] = [:]
                for (key, connection) in working where !present.contains(key) { index[connection.endpoints] = key }
                goneIndex = index
                return index
            }
            // Closed connections counted per minute (flow_minutes); this sample's
            // listeners say which ones were accepted, and by whom.
            var flows: [FlowRollupKey: FlowRollupValue] = [:]
            // Built when something closes: most samples of a quiet host close nothing.
            lazy var listeners = SampleListeners(snapshot)
            var closedByEndpoints: [EndpointsKey: ConnectionKey] = [:]
            closedByEndpoints.reserveCapacity(unclaimed.count)
            for (key, index) in unclaimed {
                let socket = closeEvents[index].socket
                closedByEndpoints[EndpointsKey(netns: netns(closeEvents[index]), proto: socket.proto, local: socket.local, remote: socket.remote)] = key
            }
            for orphan in orphans {
                event(sampleID, orphan, firstSample: nil, .closed, ChangeLog.closedDuringGap)
            }
            var seen = 0
            for socket in snapshot.sockets {
                var key = ConnectionKey(socket)
                let owners = try ownerKeys(socket, &workingProcesses)
                if socket.state == .timeWait, working[key] == nil, let before = goneByEndpoints(working)[EndpointsKey(socket)],
                   var continued = working.removeValue(forKey: before) {
                    goneIndex?.removeValue(forKey: EndpointsKey(socket))
                    // Its close event (old cookie) gives the final counters; it lives on.
                    if let index = unclaimed.removeValue(forKey: before) { Self.claim(closeEvents[index], by: socket, &continued) }
                    working[key] = continued
                } else if socket.state == .timeWait, working[key] == nil, let closedKey = closedByEndpoints.removeValue(forKey: EndpointsKey(socket)),
                          let index = unclaimed.removeValue(forKey: closedKey) {
                    // Opened and entered TIME_WAIT between two samples: first seen now,
                    // with the counters its close event gave.
                    key = ConnectionKey(socket)
                    unclaimed[key] = index
                }
                func update(_ existing: inout OpenConnection) throws {
                    if existing.state != socket.state {
                        event(sampleID, existing.id, firstSample: existing.firstSample, .stateChanged, Int64(socket.state.rawValue))
                        existing.state = socket.state
                    }
                    if existing.owners != owners {
                        for added in owners.subtracting(existing.owners) { event(sampleID, existing.id, firstSample: existing.firstSample, .ownerAdded, added.packed) }
                        for removed in existing.owners.subtracting(owners) { event(sampleID, existing.id, firstSample: existing.firstSample, .ownerRemoved, removed.packed) }
                        existing.owners = owners
                    }
                    existing.backlog = updateBacklog(socket, existing.backlog, id: existing.id, firstSample: existing.firstSample, sample: sampleID)
                    existing.queues = recordQueues(socket, last: existing.queues, id: existing.id, firstSample: existing.firstSample, sample: sampleID)
                    existing.seenIn = sampleID
                    if let info = socket.tcpInfo { existing.totals = ConnectionTotals(info) }
                    if !unclaimed.isEmpty, let index = unclaimed.removeValue(forKey: key) {
                        Self.claim(closeEvents[index], by: socket, &existing)
                        try writeTotals(existing)
                    }
                }
                // Updated in place (`values[index]`): copying every open connection out
                // and back was a fifth of a sample's time at 10,000 sockets.
                if let index = working.index(forKey: key) {
                    if working.values[index].seenIn == sampleID { continue }  // duplicate key within a sample
                    try update(&working.values[index])
                } else {
                    let firstOwner = owners.min { $0.packed < $1.packed }
                    let id = through + 1
                    try insertConnection(socket, id: id, sampleID: sampleID, owner: firstOwner)
                    through = id
                    for extra in owners.sorted(by: { $0.packed < $1.packed }).dropFirst() {
                        event(sampleID, id, firstSample: sampleID, .ownerAdded, extra.packed)
                    }
                    let backlog = updateBacklog(socket, nil, id: id, firstSample: sampleID, sample: sampleID)
                    let queues = recordQueues(socket, last: (0, 0), id: id, firstSample: sampleID, sample: sampleID)
                    var opened = OpenConnection(id: id, firstSample: sampleID, state: socket.state, owners: owners, backlog: backlog, queues: queues, seenIn: sampleID,
                                                endpoints: EndpointsKey(socket), firstSeen: snapshot.takenAt,
                                                process: Self.name(of: firstOwner, among: socket.processes, workingProcesses))
                    if let info = socket.tcpInfo { opened.totals = ConnectionTotals(info) }
                    if let index = unclaimed.removeValue(forKey: key) {
                        Self.claim(closeEvents[index], by: socket, &opened)
                        try writeTotals(opened)
                    }
                    working[key] = opened
                }
                seen += 1
            }
            // Whatever was open and is not in this sample is gone.
            var gone: [ConnectionKey] = []
            // Read in place: iterating (key, value) pairs would copy (and retain) every
            // open connection to find the few that are gone.
            for index in working.indices where working.values[index].seenIn != sampleID && !unread.contains(working.keys[index].netns) {
                let (key, connection) = (working.keys[index], working.values[index])
                if let peak = connection.backlog {
                    event(sampleID, connection.id, firstSample: connection.firstSample, .backlogEnded, QueueCode.pack(recv: peak.recv, send: peak.send))
                }
                // Its close event, if one came, gives the true close time and the final
                // counters; without one it closed between its last sample and this one.
                var closedAt = connection.closedAt
                var totals = connection.totals
                if let index = unclaimed.removeValue(forKey: key) {
                    closedAt = closeEvents[index].at
                    if let info = closeEvents[index].socket.tcpInfo { totals = ConnectionTotals(info) }
                }
                // In the first sample of a run, "gone" means it closed while no one was looking.
                event(sampleID, connection.id, firstSample: nil, .closed, firstOfRun ? ChangeLog.closedDuringGap : nil)
                try database.prepare("UPDATE connections SET last_sample = ?, closed_in_gap = ?, closed_at_ms = ?, totals = ? WHERE id = ?")
                    .run([.integer(previousSample ?? sampleID), .integer(firstOfRun ? 1 : 0),
                          closedAt.map { .integer(Clock.milliseconds($0)) } ?? .null,
                          totals.map { .blob($0.encode()) } ?? .null, .integer(connection.id)])
                gone.append(key)
                let endpoints = connection.endpoints
                if let end = closedAt ?? previousSampleAt, !SampleListeners.isListener(proto: endpoints.proto, state: connection.state, remote: endpoints.remote) {
                    let flow = ClosedFlow(proto: endpoints.proto, local: endpoints.local, remote: endpoints.remote, process: connection.process,
                                          closeEventOnly: false, start: connection.firstSeen, end: end, totals: totals,
                                          accepted: listeners.accepts(netns: endpoints.netns, proto: endpoints.proto, port: endpoints.local.port))
                    flows[flow.key, default: FlowRollupValue()].add(closeEventOnly: false, start: flow.start, end: end, totals: totals)
                }
            }
            for key in gone { working.removeValue(forKey: key) }
            // Sockets that opened and closed between two samples: known only by their
            // close event; an accepted one is owned by its listener's processes. Packed
            // in one block for the sample (ShortConnections.swift), ids after the
            // sampled connections', in close order.
            if !unclaimed.isEmpty {
                var shorts: [ShortConnection] = []
                shorts.reserveCapacity(unclaimed.count)
                for index in unclaimed.values.sorted(by: { (closeEvents[$0].at, $0) < (closeEvents[$1].at, $1) }) {
                    let closed = closeEvents[index]
                    let inferred = listeners.owners(accepting: closed.socket, in: netns(closed))
                    let owners = try ownerKeys(inferred, &workingProcesses).sorted { $0.packed < $1.packed }
                    let socket = closed.socket
                    let totals = socket.tcpInfo.map(ConnectionTotals.init)
                    if !SampleListeners.isListener(proto: socket.proto, state: socket.state, remote: socket.remote) {
                        let flow = ClosedFlow(proto: socket.proto, local: socket.local, remote: socket.remote,
                                              process: Self.name(of: owners.first, among: inferred, workingProcesses),
                                              closeEventOnly: true, start: nil, end: closed.at, totals: totals,
                                              accepted: !inferred.isEmpty || listeners.accepts(netns: netns(closed), proto: socket.proto, port: socket.local.port))
                        flows[flow.key, default: FlowRollupValue()].add(closeEventOnly: true, start: nil, end: closed.at, totals: totals)
                    }
                    shorts.append(ShortConnection(
                        proto: socket.proto, family: socket.family, local: socket.local, remote: socket.remote, state: socket.state,
                        cookie: socket.cookie, netns: netns(closed), closedAtMs: Clock.milliseconds(closed.at), totals: totals,
                        owners: owners.map { ShortOwner(process: $0.process, fd: $0.fd) },
                        cgroup: closed.cgroupPath))
                }
                // Their `closed` events are derived from the block, not logged.
                try ShortConnectionTable.insert(shorts, firstID: through + 1, sample: sampleID, into: database)
                through += Int64(shorts.count)
            }
            try FlowRollupTable.add(flows, to: database)
            try flushEvents(sampleID)
            try database.prepare("UPDATE samples SET connections_through = ? WHERE id = ?").run([.integer(through), .integer(sampleID)])
            // A keyframe every hour, or sooner when the churn since the last one would make
            // a replay long: at most four entries replayed per id a keyframe holds (so
            // keyframes cost at most a quarter of the feed), and never past 100,000.
            let keyframeNow = samplesSincePresent >= PresentSet.keyframeEvery
                || entriesSincePresent + feed.count > max(100_000, 4 * working.count)
            wroteKeyframe = keyframeNow
            feedCount = feed.count
            if keyframeNow {
                try database.prepare("INSERT INTO present(sample_id, ids) VALUES(?, ?)")
                    .run([.integer(sampleID), .blob(PresentSet.encode(working.values.map(\.id)))])
            }
            if !counters.isEmpty {
                writtenCounters = try recordCounters(counters, sample: sampleID, keyframe: keyframe, ids: &workingCounterIDs, previous: writtenCounters)
            }
            try downsample(at: snapshot.takenAt, counts: stateCounts)
            try recordStateGroups(snapshot)
            return sampleID
        }
        } catch {
            restoreOpen(orElse: working)
            throw error
        }
        // Only now: a COMMIT that fails (disk full) leaves the transaction rolled back,
        // and the next sample must close against what was really written.
        previousSample = written
        previousSampleAt = snapshot.takenAt
        open = working
        connectionsThrough = through
        if wroteKeyframe {
            samplesSincePresent = 1
            entriesSincePresent = 0
        } else {
            samplesSincePresent += 1
            entriesSincePresent += feedCount
        }
        counterIDs = workingCounterIDs
        if !counters.isEmpty {
            lastCounters = writtenCounters
            samplesSinceKeyframe = keyframe ? 1 : samplesSinceKeyframe + 1
        }
        processIDs = workingProcesses
        orphans = []
        firstOfRun = false
        samplesSinceRetention += 1
        if samplesSinceRetention >= retention.everySamples {
            samplesSinceRetention = 0
            try prune(now: snapshot.takenAt)
        }
    }

    /// After a sample that could not be written (its transaction rolled back): the open
    /// connections as the file has them, replayed from their logs like a restart's.
    /// What only memory held (the last tcp_info totals, a claimed close time) comes
    /// back with the next sample. If even that read fails, the partly updated set is
    /// kept rather than none (none would reopen every connection as a new row).
    private func restoreOpen(orElse partial: [ConnectionKey: OpenConnection]) {
        open = (try? Self.resume(database, seenIn: previousSample ?? 0)) ?? partial
    }

    /// A close event claimed by a socket still in the sample: a socket now in
    /// TIME_WAIT lives on under the same cookie (its end is the TIME_WAIT's); any other
    /// closed during or right after the dump, and closes at the event once gone.
    private static func claim(_ closed: CloseEvent, by socket: Socket, _ connection: inout OpenConnection) {
        if let info = closed.socket.tcpInfo { connection.totals = ConnectionTotals(info) }
        connection.closedAt = socket.state == .timeWait ? nil : closed.at
    }

    /// Writes a connection's final counters when its close event came while it
    /// lives on (as TIME_WAIT): they are final already, and served from now on.
    private func writeTotals(_ connection: OpenConnection) throws {
        guard let totals = connection.totals else { return }
        try database.prepare("UPDATE connections SET totals = ? WHERE id = ?").run([.blob(totals.encode()), .integer(connection.id)])
    }

    private func insertSample(_ snapshot: Snapshot, counts: [Int: Int], missedSlots: Int, closeEvents: Int, closeOverflows: Int) throws -> Int64 {
        let takenAt = Clock.milliseconds(snapshot.takenAt)
        try database.prepare("""
            INSERT INTO samples(taken_at_ms, run_id, duration_ms, sockets, problems, counts, missed_slots, close_events, close_overflows)
            VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
            .run([.integer(takenAt), .integer(runID), .real(snapshot.duration * 1000),
                  .integer(Int64(snapshot.sockets.count)), .integer(snapshot.problems.isEmpty ? 0 : 1),
                  .blob(StateCountsBlob.encode(counts: counts)), .integer(Int64(missedSlots)),
                  .integer(Int64(closeEvents)), .integer(Int64(closeOverflows))])
        let id = database.lastInsertRowID
        try database.prepare("INSERT INTO sample_times(id, taken_at_ms) VALUES(?, ?)").run([.integer(id), .integer(takenAt)])
        return id
    }

    /// Writes a sampled connection's row under `id`: the next in the sequence the
    /// short connections' blocks share (SQLite's own next rowid would be one of theirs).
    private func insertConnection(_ socket: Socket, id: Int64, sampleID: Int64, owner: OwnerKey?) throws {
        try database.prepare("""
            INSERT INTO connections(id, kind, local_addr, local_port, remote_addr, remote_port, uid, inode, cookie,
                                    first_sample, state, process_id, fd, origin, netns)
            VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """).run([
            .integer(id), .integer(ConnectionKind.encode(socket.proto, socket.family)),
            .blob(AddressBytes.encode(socket.local.address)), .integer(Int64(socket.local.port)),
            .blob(AddressBytes.encode(socket.remote.address)), .integer(Int64(socket.remote.port)),
            .integer(Int64(socket.uid)), .integer(Int64(socket.inode)),
            socket.cookie.map { .integer(Int64(bitPattern: $0)) } ?? .null,
            .integer(sampleID), .integer(Int64(socket.state.rawValue)),
            owner.map { .integer($0.process) } ?? .null, owner.map { .integer(Int64($0.fd)) } ?? .null,
            .integer(ConnectionOrigin.queuesRecorded.rawValue),
            socket.netns.map { .integer(Int64(bitPattern: $0)) } ?? .null,
        ])
    }

    /// Writes the counters that changed since the last sample written (all of them in
    /// a keyframe); returns the values now on disk.
    private func recordCounters(
        _ counters: [CounterKey: UInt64], sample: Int64, keyframe: Bool, ids: inout [CounterKey: Int64], previous: [Int64: Int64]
    ) throws -> [Int64: Int64] {
        var current = previous
        var changed: [(id: Int64, value: Int64)] = []
        for (key, raw) in counters {
            // Stored as the same 64 bits, signed (SQLite's and the varint codec's integer).
            let value = Int64(bitPattern: raw)
            let id: Int64
            if let known = ids[key] {
                id = known
            } else {
                let name = key.storageName
                try database.prepare("INSERT OR IGNORE INTO counter_names(name) VALUES(?)").run([.text(name)])
                id = try database.scalar("SELECT id FROM counter_names WHERE name = ?", [.text(name)]) ?? 0
                ids[key] = id
            }
            if keyframe || previous[id] != value { changed.append((id, value)) }
            current[id] = value
        }
        if keyframe || !changed.isEmpty {
            try database.prepare("INSERT INTO counter_samples(sample_id, data) VALUES(?, ?)")
                .run([.integer(sample), .blob(CounterLog.encode(changed, keyframe: keyframe))])
        }
        return current
    }

    /// Notes an event of the sample being written: in the feed, and (unless it is a
    /// close, which `last_sample` already says) in the connection's own log.
    private func event(_ sample: Int64, _ connection: Int64, firstSample: Int64?, _ kind: EventKind, _ value: Int64?) {
        // Queue values are for `at=` answers: the connection's log holds them, the
        // feed (what shippers read) does not.
        if kind != .queuesChanged { feed.append(ChangeLog.FeedEntry(connection: connection, kind: kind, value: value)) }
        guard let firstSample, kind != .closed else { return }
        var log = logs[connection] ?? (firstSample, [])
        ChangeLog.append(ChangeLog.ConnectionEntry(sample: sample, kind: kind, value: value), firstSample: firstSample, to: &log.bytes)
        logs[connection] = log
    }

    /// Writes the sample's feed row and appends to each changed connection's log.
    private func flushEvents(_ sample: Int64) throws {
        if !feed.isEmpty {
            try database.prepare("INSERT INTO changes(sample_id, data) VALUES(?, ?)")
                .run([.integer(sample), .blob(ChangeLog.encodeFeed(feed))])
        }
        let append = try database.prepare("UPDATE connections SET log = coalesce(log, x'') || ? WHERE id = ?")
        for (connection, log) in logs {
            try append.run([.blob(log.bytes), .integer(connection)])
        }
    }

    /// The name of `owner` (a key made from one of `processes`), for its flow rollup.
    private static func name(of owner: OwnerKey?, among processes: SocketOwners, _ cache: [ProcessKey: Int64]) -> String? {
        guard let owner else { return nil }
        return processes.first { cache[ProcessKey(pid: $0.pid, startTime: $0.startTime)] == owner.process && $0.fd == owner.fd }?.name
    }

    private func ownerKeys(_ socket: Socket, _ cache: inout [ProcessKey: Int64]) throws -> Set<OwnerKey> {
        try ownerKeys(socket.processes, &cache)
    }

    private func ownerKeys(_ processes: SocketOwners, _ cache: inout [ProcessKey: Int64]) throws -> Set<OwnerKey> {
        var keys = Set<OwnerKey>()
        for owner in processes {
            let key = ProcessKey(pid: owner.pid, startTime: owner.startTime)
            let id: Int64
            if let known = cache[key] {
                id = known
            } else {
                try database.prepare("INSERT OR IGNORE INTO processes(pid, start_time, name) VALUES(?, ?, ?)")
                    .run([.integer(Int64(owner.pid)), .integer(Int64(owner.startTime)), .text(owner.name)])
                id = try database.scalar("SELECT id FROM processes WHERE pid = ? AND start_time = ?",
                                         [.integer(Int64(owner.pid)), .integer(Int64(owner.startTime))]) ?? 0
                cache[key] = id
            }
            keys.insert(OwnerKey(process: id, fd: owner.fd))
        }
        return keys
    }

    /// A backlog episode runs while the socket's queues are not empty: for a listener
    /// the accept queue (its Send-Q is the limit, not a backlog), for others both.
    /// Records the socket's Recv-Q and Send-Q when they differ from the last pair
    /// recorded, (0, 0) at first: sparse (a steady idle socket costs nothing) and exact.
    private func recordQueues(
        _ socket: Socket, last: (recv: UInt32, send: UInt32), id: Int64, firstSample: Int64, sample: Int64
    ) -> (recv: UInt32, send: UInt32) {
        guard socket.recvQ != last.recv || socket.sendQ != last.send else { return last }
        event(sample, id, firstSample: firstSample, .queuesChanged, QueueCode.pack(recv: socket.recvQ, send: socket.sendQ))
        return (socket.recvQ, socket.sendQ)
    }

    private func updateBacklog(
        _ socket: Socket, _ episode: (recv: UInt32, send: UInt32)?, id: Int64, firstSample: Int64, sample: Int64
    ) -> (recv: UInt32, send: UInt32)? {
        let recv = socket.recvQ
        let send = socket.state == .listen ? 0 : socket.sendQ
        if recv == 0 && send == 0 {
            if let episode {
                event(sample, id, firstSample: firstSample, .backlogEnded, QueueCode.pack(recv: episode.recv, send: episode.send))
            }
            return nil
        }
        guard let episode else {
            event(sample, id, firstSample: firstSample, .backlogBegan, QueueCode.pack(recv: recv, send: send))
            return (recv, send)
        }
        return (max(episode.recv, recv), max(episode.send, send))
    }

    /// Adds the sample to its hour of grouped counts; writes the hour every 12 samples
    /// and once more when the next hour starts. A restart mid-hour continues the row
    /// on disk (its kept groups and `other`).
    private func recordStateGroups(_ snapshot: Snapshot) throws {
        let bucket = Int64((snapshot.takenAt / 3600).rounded(.down)) * 3600
        if let hour = stateGroups, hour.bucket != bucket {
            try writeStateGroups(hour)
            stateGroups = nil
        }
        var hour = try stateGroups ?? loadStateGroups(bucket)
        hour.add(snapshot.sockets)
        if hour.samples % 12 == 1 { try writeStateGroups(hour) }
        stateGroups = hour
    }

    private func loadStateGroups(_ bucket: Int64) throws -> StateGroupsHour {
        var hour = StateGroupsHour(bucket: bucket)
        let statement = try database.prepare("SELECT grouping, samples, data FROM state_groups_1h WHERE bucket = ?")
        try statement.bind([.integer(bucket)])
        defer { statement.reset() }
        while try statement.step() {
            let row = try RowReader(statement)
            guard let kind = StateGroupKind(rawValue: try row.int64("grouping")) else { continue }
            hour.samples = try row.int64("samples")
            hour.sums[kind] = StateGroupsHour.decode(try row.blob("data"))
        }
        return hour
    }

    private func writeStateGroups(_ hour: StateGroupsHour) throws {
        let write = try database.prepare("INSERT OR REPLACE INTO state_groups_1h(bucket, grouping, samples, data) VALUES(?, ?, ?, ?)")
        for kind in StateGroupKind.allCases {
            try write.run([.integer(hour.bucket), .integer(kind.rawValue), .integer(hour.samples), .blob(hour.encoded(kind))])
        }
    }

    private func downsample(at time: Double, counts: [Int: Int]) throws {
        for (table, width) in [("state_counts_1m", 60.0), ("state_counts_1h", 3600.0)] {
            let bucket = Int64((time / width).rounded(.down) * width)
            let statement = try database.prepare("SELECT samples, sums FROM \(table) WHERE bucket = ?")
            try statement.bind([.integer(bucket)])
            var samples: Int64 = 0
            var sums: [Int: Int] = [:]
            if try statement.step() {
                samples = statement.int64(0)
                sums = StateCountsBlob.decode(statement.blob(1))
            }
            statement.reset()
            for (key, count) in counts { sums[key, default: 0] += count }
            try database.prepare("INSERT OR REPLACE INTO \(table)(bucket, samples, sums) VALUES(?, ?, ?)")
                .run([.integer(bucket), .integer(samples + 1), .blob(StateCountsBlob.encode(counts: sums))])
        }
    }

    /// Deletes raw rows older than the retention, a bounded batch per call so a long
    /// backlog of old rows never stalls a sample.
    public func prune(now: Double) throws {
        // First: short connections have a retention of their own, shorter than the
        // raw one, due before anything else is.
        try pruneShortConnections(now: now)
        let cutoff = Clock.milliseconds(now - retention.rawSeconds)
        guard let oldestKept = try database.scalar("SELECT min(id) FROM samples WHERE taken_at_ms >= ?", [.integer(cutoff)]),
              let oldest = try database.scalar("SELECT min(id) FROM samples"), oldest < oldestKept else { return }
        // Ids grow with time: only connections opened by the oldest sample kept can have
        // ended before it, so the scan stops there instead of reading the whole table.
        let through = try database.scalar("SELECT connections_through FROM samples WHERE id = ?", [.integer(oldestKept)]) ?? 0
        try database.transaction {
            try database.prepare("DELETE FROM changes WHERE sample_id IN (SELECT sample_id FROM changes WHERE sample_id < ? LIMIT ?)")
                .run([.integer(oldestKept), .integer(Int64(retention.batch))])
            // Oldest ids first; rows still open (NULL) are skipped by the condition.
            try database.prepare("DELETE FROM connections WHERE id IN (SELECT id FROM connections WHERE id <= ? AND last_sample < ? ORDER BY id LIMIT ?)")
                .run([.integer(through), .integer(oldestKept), .integer(Int64(retention.batch))])
            try ShortConnectionTable.prune(through: try database.scalar(
                "SELECT connections_through FROM samples WHERE id < ? ORDER BY id DESC LIMIT 1", [.integer(oldestKept)]) ?? 0,
                batch: retention.batch, in: database)
            // Keep the newest keyframe at or before the oldest sample kept: replays start there.
            let anchor = try database.scalar("SELECT max(sample_id) FROM present WHERE sample_id <= ?", [.integer(oldestKept)]) ?? 0
            try database.prepare("DELETE FROM present WHERE sample_id < ?").run([.integer(anchor)])
            try database.prepare("DELETE FROM counter_samples WHERE sample_id IN (SELECT sample_id FROM counter_samples WHERE sample_id < ? LIMIT ?)")
                .run([.integer(oldestKept), .integer(Int64(retention.batch))])
            try database.prepare("DELETE FROM samples WHERE id IN (SELECT id FROM samples WHERE id < ? LIMIT ?)")
                .run([.integer(oldestKept), .integer(Int64(retention.batch))])
            try pruneSampleTimes(before: oldestKept, connectionsThrough: through)
            let seriesCutoff = now - retention.seriesSeconds
            try database.prepare("DELETE FROM state_counts_1m WHERE bucket < ?").run([.real(now - min(retention.seriesSeconds, 7 * 86400))])
            try database.prepare("DELETE FROM state_counts_1h WHERE bucket < ?").run([.real(seriesCutoff)])
            try database.prepare("DELETE FROM flow_minutes WHERE minute < ?").run([.integer(Int64((seriesCutoff / 60).rounded(.down)))])
            try database.prepare("DELETE FROM state_groups_1h WHERE bucket < ?").run([.real(seriesCutoff)])
        }
    }

    /// Connections seen only through their close event are most rows on a busy host;
    /// they are kept `retention.flowRawSeconds` (their counts live on in flow_minutes).
    private func pruneShortConnections(now: Double) throws {
        guard retention.flowRawSeconds < retention.rawSeconds else { return }
        let cutoff = Clock.milliseconds(now - retention.flowRawSeconds)
        // Ids grow with time: the rows to go are among those opened by the last sample
        // before the cutoff.
        guard let sample = try database.scalar("SELECT max(id) FROM samples WHERE taken_at_ms < ?", [.integer(cutoff)]),
              let through = try database.scalar("SELECT connections_through FROM samples WHERE id = ?", [.integer(sample)]) else { return }
        // Rows of files recorded before the packed blocks, up to the last of them (a
        // bound, so a file without any does not scan its connections for none).
        let legacy = try database.scalar("SELECT through FROM legacy_short_through") ?? 0
        if legacy > 0 {
            try database.prepare("""
                DELETE FROM connections WHERE id IN (
                    SELECT id FROM connections WHERE id <= ? AND origin & 1 = 1 AND closed_at_ms < ? ORDER BY id LIMIT ?)
                """).run([.integer(min(through, legacy)), .integer(cutoff), .integer(Int64(retention.batch))])
        }
        // The blocks of samples before the cutoff hold connections that closed before it.
        try ShortConnectionTable.prune(through: through, batch: retention.batch, in: database)
    }
}

extension Recorder {
    /// Deletes the times of pruned samples that no connection still points at. The
    /// connections opened by the oldest sample kept that survive the prune are the
    /// long-lived ones; their first sample and logged changes keep their times.
    private func pruneSampleTimes(before oldestKept: Int64, connectionsThrough through: Int64) throws {
        var referenced = Set<Int64>()
        let rows = try database.prepare("SELECT first_sample, log FROM connections WHERE id <= ?")
        try rows.bind([.integer(through)])
        do {
            defer { rows.reset() }
            while try rows.step() {
                let row = try RowReader(rows)
                let first = try row.int64("first_sample")
                referenced.insert(first)
                for entry in ChangeLog.decodeConnection(try row.blob("log"), firstSample: first) { referenced.insert(entry.sample) }
            }
        }
        var unreferenced: [Int64] = []
        let times = try database.prepare("SELECT id FROM sample_times WHERE id < ? ORDER BY id")
        try times.bind([.integer(oldestKept)])
        do {
            defer { times.reset() }
            while unreferenced.count < retention.batch, try times.step() {
                let id = times.int64(0)
                if !referenced.contains(id) { unreferenced.append(id) }
            }
        }
        let delete = try database.prepare("DELETE FROM sample_times WHERE id = ?")
        for id in unreferenced { try delete.run([.integer(id)]) }
    }
}

/// How long history is kept.
public struct Retention: Sendable {
    /// Raw rows (connections, events, samples), in seconds; default 7 days.
    public var rawSeconds: Double = 7 * 86400
    /// Downsampled state-count series and flow rollups, in seconds; default 90 days.
    public var seriesSeconds: Double = 90 * 86400
    /// Connections seen only through their close event (shorter than a sample), in
    /// seconds; default 2 days. Their counts stay in the flow rollups.
    public var flowRawSeconds: Double = 2 * 86400
    /// Prune every this many samples.
    public var everySamples = 12
    /// Rows deleted per table per prune, so pruning never stalls a sample.
    public var batch = 5000

    /// The defaults above.
    public init() {}
}

/// A connection's protocol and endpoints: not an identity (4-tuples are reused), but
/// what ties a TIME_WAIT socket to the connection it succeeds within one sample.
struct EndpointsKey: Hashable {
    var netns: UInt64
    var proto: TransportProtocol
    var local: Endpoint
    var remote: Endpoint

    init(netns: UInt64?, proto: TransportProtocol, local: Endpoint, remote: Endpoint) {
        self.netns = netns ?? 0
        self.proto = proto
        self.local = local
        self.remote = remote
    }

    init(_ socket: Socket) {
        self.init(netns: socket.netns, proto: socket.proto, local: socket.local, remote: socket.remote)
    }
}

/// What identifies a connection across samples: the kernel's socket cookie (kept by
/// the TIME_WAIT socket that replaces an ESTABLISHED one), or, from /proc which has
/// no cookie, the protocol and both endpoints.
struct ConnectionKey: Hashable {
    /// The network namespace's inode (0: unknown, the host's before namespaces were sampled).
    var netns: UInt64
    var cookie: UInt64
    var proto: UInt8
    var local: Endpoint
    var remote: Endpoint

    /// A key with a cookie hashes the cookie alone (its endpoints are constant), which
    /// halves the hashing of a sample at 10,000 sockets.
    func hash(into hasher: inout Hasher) {
        hasher.combine(netns)
        hasher.combine(cookie)
        if proto != 0 {
            hasher.combine(proto)
            hasher.combine(local)
            hasher.combine(remote)
        }
    }

    init(_ socket: Socket) {
        self.init(netns: socket.netns, cookie: socket.cookie, proto: socket.proto, local: socket.local, remote: socket.remote)
    }

    init(netns: UInt64?, cookie: UInt64?, proto: TransportProtocol, local: Endpoint, remote: Endpoint) {
        self.netns = netns ?? 0
        if let cookie {
            self.cookie = cookie
            self.proto = 0
            self.local = Endpoint(address: .any(.ipv4), port: 0)
            self.remote = self.local
        } else {
            self.cookie = 0
            self.proto = proto == .tcp ? 1 : 2
            self.local = local
            self.remote = remote
        }
    }
}
