import HTTP
import Rendering
import Sampling

/// `GET /api/v1/listeners`: every listening TCP socket and bound UDP socket (netstat -nlp),
/// with owners, accept queue and how exposed it is.
enum ListenerRoutes {
    static let parameters = ["proto", "family", "port", "local_addr", "pid", "process", "user", "format", "info", "netns", "container"]

    static func list(_ context: RouteContext) throws -> HTTPResponse {
        try context.query.rejectUnknown(parameters)
        var filter = try ConnectionFilter(query: context.query)
        filter.listening = true
        let detail = try ConnectionRoutes.detail(context.query)
        let format = try context.format()
        if let unchanged = context.unchangedSinceNewest() { return unchanged }
        let snapshot = context.snapshot()
        if let unchanged = context.notModified(takenAt: snapshot.takenAt) { return unchanged }
        let matched = try context.matching(filter, in: snapshot)
        let body = SocketListBody.render(
            matched, total: matched.count, next: nil, snapshot: snapshot, format: format, detail: detail,
            extra: writeExposure, heading: "Active Internet connections (only servers)")
        return context.answer(body, contentType: format.contentType, takenAt: snapshot.takenAt)
    }

    /// Adds `exposure` (all, loopback, address) to a listener's JSON. A `::` socket
    /// without v6only also takes IPv4, which `also_ipv4` says.
    static func writeExposure(_ socket: Socket, _ json: inout JSONWriter) {
        json.key("exposure"); json.string(Exposure(boundTo: socket.local.address).rawValue)
        if socket.family == .ipv6 && socket.local.address.isUnspecified {
            json.key("also_ipv4")
            if let v6only = socket.v6only { json.bool(!v6only) } else { json.null() }
        }
    }
}
