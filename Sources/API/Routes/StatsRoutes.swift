import HTTP
import Rendering
import Sampling
import Service

/// `GET /api/v1/stats/states`: `netstat -n | awk '{++s[$6]} END {for (k in s) print k, s[k]}'`,
/// optionally grouped by local port, remote address or process.
enum StatsRoutes {
    static func states(_ context: RouteContext) throws -> HTTPResponse {
        try context.query.rejectUnknown(ConnectionFilter.parameterNames + ["group_by", "format"])
        let format = try context.format()
        let filter = try ConnectionFilter(query: context.query)
        var grouping: StateCounts.Grouping?
        if let text = try context.query.string("group_by") {
            guard let chosen = StateCounts.Grouping(rawValue: text) else {
                throw Problem.badParameter("group_by", text, accepts: "local_port, remote_addr or process")
            }
            grouping = chosen
        }
        if let unchanged = context.unchangedSinceNewest() { return unchanged }
        let snapshot = context.snapshot()
        if let unchanged = context.notModified(takenAt: snapshot.takenAt) { return unchanged }
        _ = try filter.namespaceInodes(in: snapshot)
        let rows = StateCounts.count(snapshot, filter: filter, grouping: grouping)
        if format != .json {
            var table = RowTable(columns: (grouping == nil ? [] : ["group"]) + ["proto", "state", "count"])
            for row in rows {
                table.rows.append((grouping == nil ? [] : [.text(row.group ?? "-")]) + [.text(row.proto.rawValue), .text(row.state), .integer(Int64(row.count))])
            }
            return context.answer(table.render(format, heading: "Socket states at " + Timestamp.rfc3339(snapshot.takenAt)),
                                  contentType: format.contentType, takenAt: snapshot.takenAt)
        }
        var byState: [String: Int] = [:]
        var total = 0
        if grouping == nil {
            for row in rows {
                byState[row.state, default: 0] += row.count
                total += row.count
            }
        } else {
            // A socket held by two processes counts once per process when grouped; the
            // totals come from an ungrouped count.
            for row in StateCounts.count(snapshot, filter: filter, grouping: nil) {
                byState[row.state, default: 0] += row.count
                total += row.count
            }
        }
        var json = JSONWriter(capacity: 256 + rows.count * 80)
        json.beginObject()
        json.key("taken_at"); json.string(Timestamp.rfc3339(snapshot.takenAt))
        json.key("total"); json.number(total)
        json.key("by_state"); json.beginObject()
        for (state, count) in byState.sorted(by: { $0.key < $1.key }) {
            json.key(state); json.number(count)
        }
        json.endObject()
        json.key("group_by")
        if let grouping { json.string(grouping.rawValue) } else { json.null() }
        json.key("counts"); json.beginArray()
        for row in rows {
            json.beginObject()
            if let group = row.group { json.key("group"); json.string(group) }
            json.key("proto"); json.string(row.proto.rawValue)
            json.key("state"); json.string(row.state)
            json.key("count"); json.number(row.count)
            json.endObject()
        }
        json.endArray()
        json.endObject()
        return context.answer(json.bytes, contentType: "application/json", takenAt: snapshot.takenAt)
    }
}
