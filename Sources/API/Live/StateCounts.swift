public import Sampling
public import Service

/// Socket counts by protocol and state, optionally split by a grouping key: the
/// `netstat -n | awk '{++s[$6]} END {...}'` question, and "which peer holds 900 TIME_WAITs".
public enum StateCounts {
    /// What to split the counts by (the same keys as history's).
    public typealias Grouping = StateGrouping

    /// One row of counts.
    public struct Row: Sendable {
        /// The group's key (nil without grouping).
        public var group: String?
        /// Protocol.
        public var proto: TransportProtocol
        /// netstat state name.
        public var state: String
        /// Number of sockets.
        public var count: Int
    }

    /// Counts the sockets of `snapshot` passing `filter`, grouped by `grouping`,
    /// largest first.
    public static func count(
        _ snapshot: Snapshot, filter: ConnectionFilter, grouping: Grouping?
    ) -> [Row] {
        struct Key: Hashable { var group: String?; var proto: TransportProtocol; var state: String }
        var counts: [Key: Int] = [:]
        for index in filter.matchingIndices(in: snapshot) {
            let socket = snapshot.sockets[index]
            let groups: [String?]
            switch grouping {
            case nil: groups = [nil]
            case .localPort: groups = [String(socket.local.port)]
            case .remoteAddr: groups = [socket.remote.address.description]
            case .process:
                let names = Set(socket.processes.map(\.name))
                groups = names.isEmpty ? ["-"] : names.sorted()
            }
            for group in groups {
                counts[Key(group: group, proto: socket.proto, state: socket.stateName), default: 0] += 1
            }
        }
        return counts
            .map { Row(group: $0.key.group, proto: $0.key.proto, state: $0.key.state, count: $0.value) }
            .sorted { ($1.count, $0.group ?? "", $0.proto.rawValue, $0.state) < ($0.count, $1.group ?? "", $1.proto.rawValue, $1.state) }
    }
}
