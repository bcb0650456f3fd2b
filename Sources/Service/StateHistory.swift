public import Sampling
public import Store

/// What history's state counts can be split by (as live counts can).
public enum StateGrouping: String, Sendable, CaseIterable {
    case localPort = "local_port"
    case remoteAddr = "remote_addr"
    case process
}

/// `history/states`: socket counts by state over time, per bucket, and optionally split
/// by a grouping key. The plain series comes from the packed per-sample counts (or
/// their downsampled tiers); a grouped one from the connection rows themselves.
public enum StateHistory {
    /// Counts per group, protocol and state name in one bucket.
    public typealias GroupCounts = [String: [TransportProtocol: [String: Int]]]

    /// A series and, when grouped, the counts per group in each bucket (by bucket index).
    public struct Series: Sendable {
        /// Which storage tier answered (`raw`, `1m`, `1h`).
        public var tier: String
        public var buckets: [StateBucket]
        public var groups: [Int: GroupCounts]
    }

    /// Grouped series read at most this many connection rows; a wider window is refused.
    public static let groupedConnectionLimit = 500_000

    /// A grouped window longer than this (or wholly older than the raw rows) is answered from
    /// the hourly grouped counts: means over each bucket, steps of an hour or more.
    public static let rawGroupedWindow = 86_400.0

    /// Why a long grouped window cannot be answered at this step.
    public struct StepTooShort: Error {
        public var minimum: Double
    }

    /// Why a grouped series cannot be answered.
    public struct TooManyConnections: Error {
        public var limit: Int
    }

    /// The series over [from, to] in `step`-wide buckets (from aligned by the caller).
    public static func series(
        _ readers: ReaderPool, from: Double, to: Double, step: Double,
        grouping: StateGrouping?, protocols: Set<TransportProtocol>?
    ) throws -> Series {
        let (tier, buckets) = try readers.withReader { try $0.stateSeries(from: from, to: to, step: step) }
        guard let grouping else { return Series(tier: tier, buckets: buckets, groups: [:]) }
        let oldestRaw = try readers.withReader { try $0.oldestSample() } ?? .infinity
        if to - from > rawGroupedWindow || to <= oldestRaw {
            guard step >= 3600 else { throw StepTooShort(minimum: 3600) }
            return Series(tier: "1h", buckets: buckets, groups: try hourlyGroups(readers, from: from, to: to, step: step, grouping: grouping, protocols: protocols))
        }
        let connections = try readers.withReader { reader -> [HistoricConnection] in
            var all: [HistoricConnection] = []
            var after: Int64 = 0
            while true {
                // Only what samples held: a socket seen only through its close event was
                // in none, and on a busy host those would fill the bound.
                let batch = try reader.connections(from: from, to: to, after: after, limit: 5000, sampledOnly: true)
                all += batch
                guard all.count <= groupedConnectionLimit else { throw TooManyConnections(limit: groupedConnectionLimit) }
                guard batch.count == 5000, let last = batch.last?.id else { return all }
                after = last
            }
        }
        let count = Int(((to - from) / step).rounded(.up))
        var groups: [Int: GroupCounts] = [:]
        for connection in connections where protocols?.contains(connection.proto) ?? true {
            let first = max(0, Int(((connection.firstSeen - from) / step).rounded(.down)))
            let last = min(count - 1, connection.lastSeen.map { Int((($0 - from) / step).rounded(.down)) } ?? count - 1)
            guard first <= last else { continue }
            for bucket in first...last {
                // Counted as it stood in the bucket's last sample: at its end, less the
                // millisecond that is the next bucket's first.
                let at = min(to, from + Double(bucket + 1) * step - 0.001)
                guard connection.firstSeen <= at, connection.lastSeen.map({ $0 >= at }) ?? true else { continue }
                let key: String
                switch grouping {
                case .localPort: key = String(connection.local.port)
                case .remoteAddr: key = connection.remote.address.description
                case .process:
                    key = connection.owners.first { $0.from <= at && ($0.to.map { $0 > at } ?? true) }?.name ?? "-"
                }
                let state = connection.state(at: at).name(for: connection.proto)
                groups[bucket, default: [:]][key, default: [:]][connection.proto, default: [:]][state, default: 0] += 1
            }
        }
        return Series(tier: tier, buckets: buckets, groups: groups)
    }

    /// Mean counts per group in each `step` bucket from the hourly grouped counts
    /// (rounded: a mean of 0.4 sockets shows as 0), their 100 largest groups an hour
    /// and `other`.
    static func hourlyGroups(
        _ readers: ReaderPool, from: Double, to: Double, step: Double, grouping: StateGrouping, protocols: Set<TransportProtocol>?
    ) throws -> [Int: GroupCounts] {
        let kind: StateGroupKind
        switch grouping {
        case .localPort: kind = .localPort
        case .remoteAddr: kind = .remoteAddr
        case .process: kind = .process
        }
        let hours = try readers.withReader { try $0.stateGroups(kind, from: from, to: to) }
        var sums: [Int: [String: [TransportProtocol: [String: Int]]]] = [:]
        var samples: [Int: Int] = [:]
        for hour in hours {
            let bucket = Int(((max(hour.start, from) - from) / step).rounded(.down))
            samples[bucket, default: 0] += hour.samples
            for (group, states) in hour.sums {
                for (key, sum) in states where protocols?.contains(key.proto) ?? true {
                    sums[bucket, default: [:]][group, default: [:]][key.proto, default: [:]][key.state.name(for: key.proto), default: 0] += sum
                }
            }
        }
        var groups: [Int: GroupCounts] = [:]
        for (bucket, byGroup) in sums {
            let count = Double(max(1, samples[bucket] ?? 1))
            groups[bucket] = byGroup.mapValues { $0.mapValues { $0.mapValues { Int((Double($0) / count).rounded()) } } }
        }
        return groups
    }
}
