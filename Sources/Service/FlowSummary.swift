import Sampling
public import Store

/// One part of a flow answer: a minute's rollup row (closed connections), or one
/// connection still open at the window's end. Ports the rollups do not keep (the
/// ephemeral side of a connection) are nil.
public struct FlowEntry: Sendable {
    public var flow: FlowEndpoints
    public var value: FlowRollupValue
}

/// "Who hammered this port": the connections of a window grouped by the keys asked
/// for, with counts, bytes and how long they lived. Closed connections come from the
/// per-minute rollups (`flow_minutes`), so an hour of 3.6 million connections is 60
/// minutes of rows; connections still open at the window's end from the sample then.
/// The window is widened to whole minutes, and the answer says so.
public enum FlowSummary {
    /// What connections can be grouped by.
    public enum Key: String, Sendable, CaseIterable {
        case localPort = "local_port", remoteAddr = "remote_addr", remotePort = "remote_port"
        case remoteNet = "remote_net", process, proto
    }

    /// The value shown for a port the rollups do not keep (a client's ephemeral port).
    public static let ephemeral = "ephemeral"

    /// One group.
    public struct Group: Sendable {
        /// The group's value for each key asked for, in order (`remote_net` as a CIDR).
        public var values: [String]
        /// Its connections' counts, bytes and durations.
        public var total = FlowRollupValue()

        public var count: Int { total.count }
        /// Connections seen only through their close event (shorter than a sample).
        public var closeEventOnly: Int { total.closeEventOnly }
        public var bytesSent: UInt64 { total.bytesSent }
        public var bytesReceived: UInt64 { total.bytesReceived }
        public var retransmits: UInt64 { total.retransmits }
        /// The earliest first-seen (or close, for close-event-only) and the latest end.
        public var first: Double? { total.first }
        public var last: Double? { total.last }

        /// The `p`-th percentile (0...1) of the known durations, within a histogram
        /// bucket (about 19%); nil when none is known.
        public func durationPercentile(_ p: Double) -> Double? { total.durations.percentile(p) }

        /// How many connections had a known duration.
        public var durationsKnown: Int { total.durations.count }
    }

    /// An answer: the groups and the window they cover (whole minutes).
    public struct Answer: Sendable {
        public var from: Double
        public var to: Double
        public var groups: [Group]
    }

    /// The connections present in [from, to] (widened to whole minutes) that pass
    /// `keep`, grouped by `keys`; `prefixV4`/`prefixV6` size `remote_net`.
    public static func read(
        _ readers: ReaderPool, from: Double, to: Double, keys: [Key], prefixV4: Int = 24, prefixV6: Int = 64,
        keep: (FlowEntry) -> Bool
    ) throws -> Answer {
        let fromMinute = Int64((from / 60).rounded(.down)), toMinute = Int64((to / 60).rounded(.up))
        let (windowFrom, windowTo) = (Double(fromMinute) * 60, Double(max(toMinute, fromMinute + 1)) * 60)
        var groups: [[String]: Group] = [:]
        func add(_ entry: FlowEntry) {
            guard keep(entry) else { return }
            let values = keys.map { value(of: $0, in: entry, prefixV4: prefixV4, prefixV6: prefixV6) }
            groups[values, default: Group(values: values)].total.merge(entry.value)
        }
        try readers.withReader { reader in
            try reader.flowMinutes(fromMinute: fromMinute, toMinute: Int64(windowTo / 60)) { key, value in
                add(FlowEntry(flow: key.flow, value: value))
            }
            for entry in try openAtEnd(reader, from: windowFrom, to: windowTo) { add(entry) }
        }
        return Answer(from: windowFrom, to: windowTo, groups: Array(groups.values))
    }

    /// The connections of the last sample at or before `to` that had not ended by
    /// `to` (those that had are in the rollups), present in the window.
    static func openAtEnd(_ reader: HistoryReader, from: Double, to: Double) throws -> [FlowEntry] {
        guard let sample = try reader.sample(atOrBefore: to) else { return [] }
        let connections = try reader.openFlows(atSample: sample.id)
        struct Port: Hashable { var proto: TransportProtocol; var netns: UInt64?; var port: UInt16 }
        let listening = Set(connections.filter(\.isListener).map { Port(proto: $0.proto, netns: $0.netns, port: $0.local.port) })
        var entries: [FlowEntry] = []
        for connection in connections where !connection.isListener {
            // Ended before the window's end: counted in the rollups (or before the window).
            if let end = connection.end, end < to { continue }
            let accepted = listening.contains(Port(proto: connection.proto, netns: connection.netns, port: connection.local.port))
            var value = FlowRollupValue()
            value.add(closeEventOnly: connection.closeEventOnly, start: connection.start, end: connection.end, totals: connection.totals)
            entries.append(FlowEntry(flow: FlowEndpoints(proto: connection.proto, local: connection.local, remote: connection.remote,
                                                         process: connection.process, accepted: accepted), value: value))
        }
        return entries
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

    static func value(of key: Key, in entry: FlowEntry, prefixV4: Int, prefixV6: Int) -> String {
        let entry = entry.flow
        switch key {
        case .localPort: return entry.localPort.map(String.init) ?? ephemeral
        case .remoteAddr: return entry.remoteAddress.description
        case .remotePort: return entry.remotePort.map(String.init) ?? ephemeral
        case .remoteNet:
            // An IPv4 peer of an IPv6 socket (::ffff:a.b.c.d) groups with IPv4 peers.
            let address = entry.remoteAddress.ipv4Mapped ?? entry.remoteAddress
            let prefix = address.family == .ipv4 ? prefixV4 : prefixV6
            return address.masked(toPrefix: prefix).description + "/\(prefix)"
        case .process: return entry.process ?? "-"
        case .proto: return entry.proto.rawValue
        }
    }
}
