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
        let connections = try readers.withReader { reader -> [HistoricConnection] in
            var all: [HistoricConnection] = []
            var after: Int64 = 0
            while true {
                let batch = try reader.connections(from: from, to: to, after: after, limit: 5000)
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
}
