import Sampling
public import Store

/// "Who hammered this port": connections of a window grouped by the keys asked for,
/// with counts, bytes and how long they lived.
public enum FlowSummary {
    /// What connections can be grouped by.
    public enum Key: String, Sendable, CaseIterable {
        case localPort = "local_port", remoteAddr = "remote_addr", remotePort = "remote_port"
        case remoteNet = "remote_net", process, proto
    }

    /// One group.
    public struct Group: Sendable {
        /// The group's value for each key asked for, in order (`remote_net` as a CIDR).
        public var values: [String]
        public var count = 0
        /// Connections seen only through their close event (shorter than a sample).
        public var closeEventOnly = 0
        public var bytesSent: UInt64 = 0
        public var bytesReceived: UInt64 = 0
        public var retransmits: UInt64 = 0
        /// Durations known (ms), for the percentiles.
        fileprivate var durations: [Double] = []
        /// The earliest first-seen (or close, for close-event-only) and the latest end.
        public var first: Double?
        public var last: Double?

        /// The `p`-th percentile (0...1) of the known durations; nil when none is known.
        public func durationPercentile(_ p: Double) -> Double? {
            guard !durations.isEmpty else { return nil }
            let sorted = durations.sorted()
            return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))]
        }

        /// How many connections had a known duration.
        public var durationsKnown: Int { durations.count }
    }

    /// Groups `rows` (each passing `keep`) by `keys`; `prefixV4`/`prefixV6` size
    /// `remote_net`. Sorted by `sort` (a Group field name) descending, at most `limit`.
    public static func summarize(
        keys: [Key], prefixV4: Int = 24, prefixV6: Int = 64,
        visit: ((FlowRow) -> Void) throws -> Void
    ) rethrows -> [Group] {
        var groups: [[String]: Group] = [:]
        try visit { row in
            let values = keys.map { value(of: $0, in: row, prefixV4: prefixV4, prefixV6: prefixV6) }
            var group = groups[values] ?? Group(values: values)
            group.count += 1
            if row.closeEventOnly { group.closeEventOnly += 1 }
            group.bytesSent &+= row.totals?.bytesSent ?? 0
            group.bytesReceived &+= row.totals?.bytesReceived ?? 0
            group.retransmits &+= row.totals?.retransmits ?? 0
            if let duration = row.durationMs { group.durations.append(duration) }
            if let start = row.firstSeen ?? row.end { group.first = min(group.first ?? start, start) }
            if let end = row.end { group.last = max(group.last ?? end, end) }
            groups[values] = group
        }
        return Array(groups.values)
    }

    /// Sorts by `field` (`count`, `bytes_sent`, `bytes_received`, `retransmits`,
    /// `close_event_only`), largest first, ties by values; at most `limit`.
    public static func top(_ groups: [Group], by field: String, limit: Int) -> [Group] {
        func measure(_ group: Group) -> UInt64 {
            switch field {
            case "bytes_sent": return group.bytesSent
            case "bytes_received": return group.bytesReceived
            case "retransmits": return group.retransmits
            case "close_event_only": return UInt64(group.closeEventOnly)
            default: return UInt64(group.count)
            }
        }
        return Array(groups.sorted { (measure($0), $1.values.joined(separator: "\u{0}")) > (measure($1), $0.values.joined(separator: "\u{0}")) }.prefix(limit))
    }

    /// The sort fields `top` accepts.
    public static let sortFields = ["count", "bytes_sent", "bytes_received", "retransmits", "close_event_only"]

    static func value(of key: Key, in row: FlowRow, prefixV4: Int, prefixV6: Int) -> String {
        switch key {
        case .localPort: return String(row.local.port)
        case .remoteAddr: return row.remote.address.description
        case .remotePort: return String(row.remote.port)
        case .remoteNet:
            // An IPv4 peer of an IPv6 socket (::ffff:a.b.c.d) groups with IPv4 peers.
            let address = row.remote.address.ipv4Mapped ?? row.remote.address
            let prefix = address.family == .ipv4 ? prefixV4 : prefixV6
            return address.masked(toPrefix: prefix).description + "/\(prefix)"
        case .process: return row.process ?? "-"
        case .proto: return row.proto.rawValue
        }
    }
}
