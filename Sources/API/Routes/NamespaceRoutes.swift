import HTTP
import Rendering
import Sampling

/// `GET /api/v1/namespaces`: every network namespace netstatd sees (`ip netns list`,
/// `lsns -t net`), with its identity, whether its sockets could be read, and its
/// socket counts by state.
enum NamespaceRoutes {
    static let parameters = ["format"]

    static func list(_ context: RouteContext) throws -> HTTPResponse {
        try context.query.rejectUnknown(parameters)
        let format = try context.format()
        let snapshot = context.snapshot()
        if let unchanged = context.notModified(takenAt: snapshot.takenAt) { return unchanged }
        let summaries = NamespaceSummary.all(in: snapshot)
        if format != .json {
            var table = RowTable(columns: ["inode", "name", "host", "read", "pid", "container", "tcp_table", "sockets", "listeners"])
            for summary in summaries {
                let namespace = summary.namespace
                let container = namespace.container.map { "\($0.runtime.rawValue):\($0.id.prefix(12))" }
                table.rows.append([
                    .integer(Int64(bitPattern: namespace.inode)), namespace.name.map(RowTable.Cell.text) ?? .null,
                    .text(namespace.isHost ? "yes" : "no"), .text(namespace.wasRead ? "yes" : "no"),
                    namespace.pid.map { .integer(Int64($0)) } ?? .null, container.map(RowTable.Cell.text) ?? .null,
                    namespace.sharesHostTCPTable.map { .text($0 ? "host's" : "own") } ?? .null,
                    .integer(Int64(summary.sockets)), .integer(Int64(summary.listeners)),
                ])
            }
            return context.answer(table.render(format, heading: "Network namespaces at " + Timestamp.rfc3339(snapshot.takenAt)),
                                  contentType: format.contentType, takenAt: snapshot.takenAt)
        }
        let json = ListEnvelope.write(summaries, about: .sample(takenAt: snapshot.takenAt), bytesPerItem: 400) { summary, json in
            NamespaceJSON.write(summary.namespace, to: &json) { json in
                json.key("sockets"); json.number(summary.sockets)
                json.key("listeners"); json.number(summary.listeners)
                json.key("by_state"); json.beginObject()
                for (state, count) in summary.byState.sorted(by: { $0.key < $1.key }) {
                    json.key(state); json.number(count)
                }
                json.endObject()
            }
        }
        return context.answer(json.bytes, contentType: "application/json", takenAt: snapshot.takenAt)
    }
}
