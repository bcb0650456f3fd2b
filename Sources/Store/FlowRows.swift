public import Sampling

/// One connection as the flow questions need it ("who hammered port 5432 between
/// 02:00 and 02:10"): its endpoints, owner, how it was seen, its end and counters.
/// Read with a narrow column list, without the per-connection logs.
public struct FlowRow: Sendable {
    public var proto: TransportProtocol
    public var family: AddressFamily
    public var local: Endpoint
    public var remote: Endpoint
    /// The name of its first owner, nil when no process held it.
    public var process: String?
    /// Seen only through its close event (it lived between two samples).
    public var closeEventOnly: Bool
    /// When it was first seen (nil when only its close event is known).
    public var firstSeen: Double?
    /// Its close time, or its last sample; nil while open.
    public var end: Double?
    public var totals: ConnectionTotals?

    /// Milliseconds from first seen to its end, when both are known.
    public var durationMs: Double? {
        guard let firstSeen, let end else { return nil }
        return max(0, (end - firstSeen) * 1000)
    }
}

extension HistoryReader {
    /// Calls `visit` for every connection present at any time in [from, to]
    /// (`connections(from:to:...)`'s rule), in id order, reading only what flows need.
    /// Listeners (TCP LISTEN, unconnected UDP) are not connections and are skipped.
    /// Stops after `limit` rows and returns false when it did.
    public func flowRows(from: Double, to: Double, limit: Int, visit: (FlowRow) -> Void) throws -> Bool {
        var after: Int64 = 0
        var visited = 0
        var names: [Int64: String] = [:]
        while true {
            let ids = try connectionIDs(from: from, to: to, after: after, limit: 5000)
            guard !ids.isEmpty else { return true }
            after = ids.last!
            let statement = try database.prepare("""
                SELECT c.kind, c.state, c.local_addr, c.local_port, c.remote_addr, c.remote_port, c.process_id, c.origin,
                       c.closed_at_ms, c.totals, f.taken_at_ms AS first_ms, l.taken_at_ms AS last_ms
                FROM connections c
                LEFT JOIN sample_times f ON f.id = c.first_sample
                LEFT JOIN sample_times l ON l.id = c.last_sample
                WHERE c.id IN (SELECT value FROM json_each(?)) ORDER BY c.id
                """)
            try statement.bind([.text("[" + ids.map(String.init).joined(separator: ",") + "]")])
            var rows: [(FlowRow, Int64?)] = []
            do {
                defer { statement.reset() }
                while try statement.step() {
                    let row = try RowReader(statement)
                    let (proto, family) = ConnectionKind.decode(try row.int64("kind"))
                    let state = try row.int64("state")
                    if proto == .tcp && state == Int64(SocketState.listen.rawValue) { continue }
                    if try proto == .udp && row.int64("remote_port") == 0 { continue }
                    let origin = ConnectionOrigin(rawValue: try row.int64("origin"))
                    let closedAt = try row.optionalInt64("closed_at_ms").map { Clock.seconds(milliseconds: $0) }
                    let last = try row.optionalInt64("last_ms").map { Clock.seconds(milliseconds: $0) }
                    let flow = FlowRow(
                        proto: proto, family: family,
                        local: Endpoint(address: AddressBytes.decode(try row.blob("local_addr")), port: UInt16(truncatingIfNeeded: try row.int64("local_port"))),
                        remote: Endpoint(address: AddressBytes.decode(try row.blob("remote_addr")), port: UInt16(truncatingIfNeeded: try row.int64("remote_port"))),
                        process: nil, closeEventOnly: origin.contains(.closeEvent),
                        firstSeen: origin.contains(.closeEvent) ? nil : try row.optionalInt64("first_ms").map { Clock.seconds(milliseconds: $0) },
                        end: closedAt ?? last, totals: ConnectionTotals.decode(try row.blob("totals")))
                    rows.append((flow, try row.optionalInt64("process_id")))
                }
            }
            for (flow, process) in rows {
                var flow = flow
                if let process {
                    if names[process] == nil { names[process] = try processName(process) }
                    flow.process = names[process]
                }
                visit(flow)
                visited += 1
                if visited >= limit { return false }
            }
        }
    }
}
