import HTTP
import Rendering
import Sampling
import Service
import Store

/// `GET /api/v1/history/flows`: the connections of a window grouped ("who hammered
/// port 5432 between 02:00 and 02:10"), short ones seen through close events included.
enum FlowRoutes {
    static let filters = ["proto", "family", "port", "local_port", "remote_port", "local_addr", "remote_addr", "process"]

    static func flows(_ context: RouteContext) throws -> HTTPResponse {
        try context.query.rejectUnknown(filters + ["from", "to", "group_by", "prefix", "prefix6", "sort", "limit", "format"])
        let history = try HistoryRoutes.access(context)
        let (requestedFrom, requestedTo) = try HistoryRoutes.window(context)
        let format = try context.format()
        var keys: [FlowSummary.Key] = []
        for text in try context.query.nonEmptyList("group_by") {
            guard let key = FlowSummary.Key(rawValue: text) else {
                throw Problem.badParameter("group_by", text, accepts: FlowSummary.Key.allCases.map(\.rawValue).joined(separator: ", ") + " (comma-separated)")
            }
            if !keys.contains(key) { keys.append(key) }
        }
        if keys.isEmpty { keys = [.localPort] }
        let prefixV4 = try context.query.integer("prefix", in: 0...32) ?? 24
        let prefixV6 = try context.query.integer("prefix6", in: 0...128) ?? 64
        let sort = try context.query.choice("sort", FlowSummary.sortFields) ?? "count"
        let limit = try context.query.integer("limit", in: 1...100_000) ?? 100
        let filter = try ConnectionFilter(query: context.query)
        // The rollups outlive the raw rows (--series-retention against --retention):
        // a window is answerable while either covers it.
        let (oldestSample, firstMinute) = try history.readers.withReader { (try $0.oldestSample(), try $0.firstFlowMinute()) }
        let oldest = [oldestSample, firstMinute.map { Double($0) * 60 }].compactMap { $0 }.min()
        if let oldest, requestedTo < oldest {
            throw Problem.badParameter("to", try context.query.string("to") ?? "", accepts: "a time after history starts (\(Timestamp.rfc3339(oldest))); older connections are pruned")
        }
        let answer = try FlowSummary.read(history.readers, from: requestedFrom, to: requestedTo, keys: keys, prefixV4: prefixV4, prefixV6: prefixV6) {
            filter.matches(flow: $0)
        }
        let (from, to, groups) = (answer.from, answer.to, answer.groups)
        let top = FlowSummary.top(groups, by: sort, limit: limit)
        if format != .json {
            var table = RowTable(columns: keys.map(\.rawValue) + ["count", "count_close_event_only", "bytes_sent", "bytes_received", "retransmits", "duration_p50_ms", "duration_p95_ms"])
            for group in top {
                table.rows.append(group.values.map { .text($0) } + [
                    .integer(Int64(group.count)), .integer(Int64(group.closeEventOnly)), .unsigned(group.bytesSent),
                    .unsigned(group.bytesReceived), .unsigned(group.retransmits),
                    group.durationPercentile(0.5).map { .number($0.rounded()) } ?? .null,
                    group.durationPercentile(0.95).map { .number($0.rounded()) } ?? .null,
                ])
            }
            return context.answer(table.render(format, heading: "Connections from \(Timestamp.rfc3339(from)) to \(Timestamp.rfc3339(to))"),
                                  contentType: format.contentType, takenAt: nil)
        }
        let json = ListEnvelope.write(top, about: .window(from: from, to: to), fields: { json in
            json.key("group_by"); json.beginArray(); for key in keys { json.string(key.rawValue) }; json.endArray()
            json.key("sort"); json.string(sort)
            json.key("groups"); json.number(groups.count)
            json.key("truncated"); json.bool(false)
        }) { group, json in
            json.beginObject()
            for (key, value) in zip(keys, group.values) { json.key(key.rawValue); json.string(value) }
            json.key("count"); json.number(group.count)
            json.key("count_close_event_only"); json.number(group.closeEventOnly)
            json.key("bytes_sent"); json.number(group.bytesSent)
            json.key("bytes_received"); json.number(group.bytesReceived)
            json.key("retransmits"); json.number(group.retransmits)
            json.key("duration_ms"); json.beginObject()
            json.key("p50"); if let p = group.durationPercentile(0.5) { json.number(p.rounded()) } else { json.null() }
            json.key("p95"); if let p = group.durationPercentile(0.95) { json.number(p.rounded()) } else { json.null() }
            json.key("known"); json.number(group.durationsKnown)
            json.endObject()
            json.key("first"); if let first = group.first { json.string(Timestamp.rfc3339(first)) } else { json.null() }
            json.key("last"); if let last = group.last { json.string(Timestamp.rfc3339(last)) } else { json.null() }
            json.endObject()
        }
        var response = context.answer(json.bytes, contentType: "application/json", takenAt: nil)
        HistoryRoutes.markPast(&response, to: to, context: context)
        return response
    }
}

extension ConnectionFilter {
    /// The filter on a flow (no state, pid or user: a closed connection has none of them
    /// to filter on; those parameters are refused by the route).
    /// A port filter matches the ports a flow keeps: never a client's ephemeral port.
    func matches(flow entry: FlowEntry) -> Bool {
        let flow = entry.flow
        if let protocols, !protocols.contains(flow.proto) { return false }
        if let kept = protocolFamilies[flow.proto], !kept.contains(flow.family) { return false }
        if let families, !families.contains(flow.family) { return false }
        if let port, flow.localPort != port && flow.remotePort != port { return false }
        if let localPort, flow.localPort != localPort { return false }
        if let remotePort, flow.remotePort != remotePort { return false }
        if let localAddress, !localAddress.matches(flow.localAddress) { return false }
        if let remoteAddress, !remoteAddress.matches(flow.remoteAddress) { return false }
        if let process, flow.process != process { return false }
        return true
    }
}
