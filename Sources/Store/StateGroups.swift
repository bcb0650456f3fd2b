import Sampling

/// What grouped state counts are split by, as stored (`state_groups_1h.grouping`).
/// A socket's group is its local port, its peer's address, or its first owner's name
/// (`-` for none).
public enum StateGroupKind: Int64, Sendable, CaseIterable {
    case localPort = 0, remoteAddr = 1, process = 2
}

/// Socket counts by group and state summed over an hour of samples
/// (`state_groups_1h`), so `history/states?group_by=` answers windows of days after
/// the raw rows are gone. Each hour keeps its `keep` largest groups of each kind and
/// sums the rest under `other`: the label set stays bounded on a host with a hundred
/// thousand peers.
struct StateGroupsHour {
    static let keep = 100
    static let other = "other"

    var bucket: Int64
    var samples: Int64 = 0
    /// By kind: group -> packed (protocol, state) key -> sum over the samples.
    var sums: [StateGroupKind: [String: [Int: Int]]] = [:]

    /// Adds one sample's sockets. Counted first by typed keys (a port, an address, a
    /// name the socket already holds), then turned into text once per distinct group:
    /// text for every socket cost 10 ms a sample at 10,000 sockets.
    mutating func add(_ sockets: [Socket]) {
        samples += 1
        struct Tally<Group: Hashable>: Hashable { var group: Group; var state: Int }
        var ports: [Tally<UInt16>: Int] = [:]
        var addresses: [Tally<IPAddress>: Int] = [:]
        var processes: [Tally<String>: Int] = [:]
        sockets.withUnsafeBufferPointer { sockets in
            for socket in sockets {
                let state = StateCountsBlob.key(socket.proto, socket.state)
                ports[Tally(group: socket.local.port, state: state), default: 0] += 1
                addresses[Tally(group: socket.remote.address, state: state), default: 0] += 1
                processes[Tally(group: socket.processes.first?.name ?? "-", state: state), default: 0] += 1
            }
        }
        func merge<Group>(_ tallies: [Tally<Group>: Int], into kind: StateGroupKind, _ text: (Group) -> String) {
            var byGroup = sums[kind] ?? [:]
            for (tally, count) in tallies { byGroup[text(tally.group), default: [:]][tally.state, default: 0] += count }
            sums[kind] = byGroup
        }
        merge(ports, into: .localPort) { String($0) }
        merge(addresses, into: .remoteAddr) { $0.description }
        merge(processes, into: .process) { $0 }
    }

    /// One kind's groups as stored: the largest `keep`, the rest summed as `other`.
    func encoded(_ kind: StateGroupKind) -> [UInt8] {
        let groups = sums[kind] ?? [:]
        let ranked = groups.map { ($0.key, $0.value, $0.value.values.reduce(0, +)) }.sorted { ($0.2, $1.0) > ($1.2, $0.0) }
        var kept = Array(ranked.prefix(Self.keep).map { ($0.0, $0.1) })
        if ranked.count > Self.keep {
            var rest: [Int: Int] = [:]
            for entry in ranked.dropFirst(Self.keep) { for (state, sum) in entry.1 { rest[state, default: 0] += sum } }
            kept.append((Self.other, rest))
        }
        var bytes: [UInt8] = []
        Varint.append(UInt64(kept.count), to: &bytes)
        for (group, states) in kept {
            let text = Array(group.utf8)
            Varint.append(UInt64(text.count), to: &bytes)
            bytes += text
            Varint.append(UInt64(states.count), to: &bytes)
            for (state, sum) in states.sorted(by: { $0.key < $1.key }) {
                Varint.append(UInt64(state), to: &bytes)
                Varint.append(UInt64(sum), to: &bytes)
            }
        }
        return bytes
    }

    static func decode(_ bytes: [UInt8]) -> [String: [Int: Int]] {
        var groups: [String: [Int: Int]] = [:]
        var index = 0
        guard let count = Varint.read(bytes, &index) else { return [:] }
        for _ in 0..<count {
            guard let length = Varint.read(bytes, &index), index + Int(length) <= bytes.count else { break }
            let group = String(decoding: bytes[index..<(index + Int(length))], as: UTF8.self)
            index += Int(length)
            guard let states = Varint.read(bytes, &index) else { break }
            for _ in 0..<states {
                guard let state = Varint.read(bytes, &index), let sum = Varint.read(bytes, &index) else { break }
                groups[group, default: [:]][Int(state), default: 0] += Int(sum)
            }
        }
        return groups
    }
}

/// One hour of grouped counts, as read back.
public struct StateGroupsBucket: Sendable {
    /// The hour's start (Unix seconds).
    public var start: Double
    public var samples: Int
    /// Group -> (protocol, state) -> sum over the hour's samples.
    public var sums: [String: [StateKey: Int]]
}

extension HistoryReader {
    /// The hours in [from, to) of grouped counts of `kind`.
    public func stateGroups(_ kind: StateGroupKind, from: Double, to: Double) throws -> [StateGroupsBucket] {
        let statement = try database.prepare("""
            SELECT bucket, samples, data FROM state_groups_1h WHERE grouping = ? AND bucket >= ? AND bucket < ? ORDER BY bucket
            """)
        try statement.bind([.integer(kind.rawValue), .integer(Int64((from / 3600).rounded(.down)) * 3600), .integer(Int64(to))])
        defer { statement.reset() }
        var buckets: [StateGroupsBucket] = []
        while try statement.step() {
            let row = try RowReader(statement)
            var sums: [String: [StateKey: Int]] = [:]
            for (group, states) in StateGroupsHour.decode(try row.blob("data")) {
                for (packed, sum) in states {
                    let (proto, state) = StateCountsBlob.split(packed)
                    sums[group, default: [:]][StateKey(proto: proto, state: state)] = sum
                }
            }
            buckets.append(StateGroupsBucket(start: Double(try row.int64("bucket")), samples: Int(try row.int64("samples")), sums: sums))
        }
        return buckets
    }

    /// The oldest raw sample's time, nil when there is none.
    public func oldestSample() throws -> Double? {
        try database.scalar("SELECT min(taken_at_ms) FROM samples").map { Clock.seconds(milliseconds: $0) }
    }
}
