import HTTP
import Rendering
import Sampling

/// `GET /api/v1/connections` (netstat -tuanp) and `GET /api/v1/ports/{port}` (lsof -i :PORT).
enum ConnectionRoutes {
    static let listParameters = ConnectionFilter.parameterNames + ["limit", "cursor", "info", "format", "at"]

    /// The socket list, filtered and paged, in any output format.
    static func list(_ context: RouteContext) throws -> HTTPResponse {
        try context.query.rejectUnknown(listParameters)
        if let at = try context.query.time("at", now: Clock.wallSeconds()) {
            return try HistoryRoutes.connectionsAt(context, at: at)
        }
        let filter = try ConnectionFilter(query: context.query)
        let limit = try context.query.integer("limit", in: 1...1_000_000)
        let cursor = try Self.cursor(context.query)
        let detail = try Self.detail(context.query)
        let format = try context.format()
        if let unchanged = context.unchangedSinceNewest() { return unchanged }
        let snapshot = context.snapshot()
        if let unchanged = context.notModified(takenAt: snapshot.takenAt) { return unchanged }
        let matched = try context.matching(filter, in: snapshot)
        let (page, next) = Paging.page(matched, of: snapshot.sockets, limit: limit, cursor: cursor)
        let body = SocketListBody.render(
            page, total: matched.count, next: next, snapshot: snapshot, format: format, detail: detail)
        return context.answer(body, contentType: format.contentType, takenAt: snapshot.takenAt, next: next)
    }

    /// Who listens on a port and every connection using it, with owners.
    static func port(_ context: RouteContext) throws -> HTTPResponse {
        try context.query.rejectUnknown(["proto", "info", "netns"])
        let port = try context.portParameter()
        var filter = try ConnectionFilter(query: context.query)
        filter.port = port
        let detail = try Self.detail(context.query)
        if let unchanged = context.unchangedSinceNewest() { return unchanged }
        let snapshot = context.snapshot()
        if let unchanged = context.notModified(takenAt: snapshot.takenAt) { return unchanged }
        var listeners: [Socket] = []
        var connections: [Socket] = []
        for index in try context.matching(filter, in: snapshot) {
            let socket = snapshot.sockets[index]
            if socket.isListening && socket.local.port == port {
                listeners.append(socket)
            } else {
                connections.append(socket)
            }
        }
        var json = JSONWriter(capacity: 1024 + (listeners.count + connections.count) * 300)
        json.beginObject()
        json.key("taken_at"); json.string(Timestamp.rfc3339(snapshot.takenAt))
        json.key("port"); json.number(port)
        json.key("listeners"); json.beginArray()
        for socket in listeners {
            SocketJSON.write(socket, user: snapshot.userName(socket.uid), detail: detail, to: &json, extra: ListenerRoutes.writeExposure)
        }
        json.endArray()
        json.key("connections"); json.beginArray()
        for socket in connections {
            SocketJSON.write(socket, user: snapshot.userName(socket.uid), detail: detail, to: &json)
        }
        json.endArray()
        json.key("count"); json.number(listeners.count + connections.count)
        json.key("listener_count"); json.number(listeners.count)
        json.key("connection_count"); json.number(connections.count)
        json.endObject()
        return context.answer(json.bytes, contentType: "application/json", takenAt: snapshot.takenAt)
    }

    static func cursor(_ query: QueryParameters) throws -> SocketCursor? {
        guard let text = try query.string("cursor") else { return nil }
        guard let cursor = SocketCursor(text: text) else {
            throw Problem.badParameter("cursor", text, accepts: "the `next` value of a previous page, unchanged")
        }
        return cursor
    }

    static func detail(_ query: QueryParameters) throws -> SocketJSON.Detail {
        var detail = SocketJSON.Detail()
        for item in query.list("info") {
            switch item {
            case "tcp": detail.tcpInfo = true
            case "timer", "timers": detail.timer = true
            default: throw Problem.badParameter("info", item, accepts: "tcp (tcp_info) and/or timer, comma-separated")
            }
        }
        return detail
    }
}
