import Glibc
import HTTP
import Rendering
import Sampling
import Service
import Store

/// The past: `connections?at=`, `history/connections`, `history/states`,
/// `history/ports/{port}`, `history/samples` and the `events` feed.
enum HistoryRoutes {
    static let windowFilters = ["proto", "family", "state", "port", "local_port", "remote_port", "local_addr", "remote_addr", "pid", "process", "user",
                                "netns"]

    static func access(_ context: RouteContext) throws -> HistoryAccess {
        guard let history = context.history else {
            throw Problem(status: 503, title: "History is not recorded",
                          detail: "this netstatd keeps no history: start it with `netstatd serve --db PATH`.", slug: "no-history")
        }
        return history
    }

    /// `from`/`to` (default: the last hour), checked for order.
    static func window(_ context: RouteContext) throws -> (from: Double, to: Double) {
        let now = Clock.wallSeconds()
        let to = try context.query.time("to", now: now) ?? now
        let from = try context.query.time("from", now: now) ?? (to - 3600)
        if from > to {
            throw Problem.badParameter("from", try context.query.string("from") ?? "", accepts: "a time before `to` (\(Timestamp.rfc3339(to)))")
        }
        return (from, to)
    }

    /// A window that ended before the newest sample will not change (until retention
    /// prunes it): a client may cache the answer.
    static func markPast(_ response: inout HTTPResponse, to: Double, context: RouteContext) {
        if let newest = context.live.newest?.takenAt, to < newest - 1 {
            response.setHeader("Cache-Control", "max-age=3600")
        }
    }

    /// A JSON answer about a window ending at `to`, cacheable once it is past.
    static func pastAware(_ json: JSONWriter, to: Double, context: RouteContext) -> HTTPResponse {
        var response = HTTPResponse.json(json)
        markPast(&response, to: to, context: context)
        return response
    }

    /// `GET /api/v1/connections?at=T`: the table as it stood in the last sample at or before T.
    static func connectionsAt(_ context: RouteContext, at: Double) throws -> HTTPResponse {
        let history = try access(context)
        let filter = try ConnectionFilter(query: context.query)
        let limit = try context.query.integer("limit", in: 1...1_000_000)
        let cursor = try ConnectionRoutes.cursor(context.query)
        let detail = try ConnectionRoutes.detail(context.query)
        let format = try context.format()
        let snapshot: Snapshot = try history.readers.withReader { reader in
            guard let sample = try reader.sample(atOrBefore: at) else {
                throw Problem(status: 404, title: "No sample", detail: "no sample was recorded at or before \(Timestamp.rfc3339(at)); see /api/v1/history/samples", parameter: "at", slug: "no-sample")
            }
            let connections = try reader.connections(inSample: sample.id)
            let sockets = connections.map { HistoryJSON.socket($0, at: sample.takenAt) }
            return Snapshot(takenAt: sample.takenAt, duration: sample.durationMs / 1000, source: .netlink, sockets: sockets,
                            problems: SamplingProblems(), userNames: context.live.newest?.userNames ?? [:])
        }
        let matched = filter.matchingIndices(in: snapshot)
        let (page, next) = Paging.page(matched, of: snapshot.sockets, limit: limit, cursor: cursor)
        let body = SocketListBody.render(page, total: matched.count, next: next, snapshot: snapshot, format: format, detail: detail)
        var response = context.answer(body, contentType: format.contentType, takenAt: snapshot.takenAt, next: next)
        // A sample that is not the newest never changes (until retention prunes it).
        if let newest = context.live.newest?.takenAt, snapshot.takenAt < newest, at < newest {
            response.setHeader("Cache-Control", "max-age=3600")
        }
        return response
    }

    /// `GET /api/v1/history/connections?from=&to=`: every connection present in the window.
    static func connections(_ context: RouteContext) throws -> HTTPResponse {
        try context.query.rejectUnknown(windowFilters + ["from", "to", "limit", "cursor"])
        let history = try access(context)
        let (from, to) = try window(context)
        let filter = try ConnectionFilter(query: context.query)
        let limit = try context.query.integer("limit", in: 1...10_000) ?? 1000
        var after: Int64 = 0
        if let text = try context.query.string("cursor") {
            guard let value = Int64(text), value >= 0 else {
                throw Problem.badParameter("cursor", text, accepts: "the `next` value of a previous page, unchanged")
            }
            after = value
        }
        let newest = context.live.newest
        if let newest { try filter.namespaceInodes(in: newest, inodesOfThePast: true) }
        let names = newest?.userNames ?? [:]
        let (items, next) = try history.readers.withReader { reader -> ([HistoricConnection], Int64?) in
            try collect(reader: reader, from: from, to: to, after: after, limit: limit) { connection in
                // Matches if the connection matched the filter at any state it had,
                // with every owner it ever had.
                let everyOwner = HistoryJSON.socketOwners(connection.owners)
                return connection.states.contains { entry in
                    var socket = HistoryJSON.socket(connection, at: entry.at)
                    socket.processes = everyOwner
                    return filter.matches(socket, userName: { names[$0] ?? String($0) }, names: newest)
                }
            }
        }
        let json = ListEnvelope.write(items, about: .window(from: from, to: to), next: next.map(String.init), bytesPerItem: 400) { item, json in
            HistoryJSON.connection(item, user: names[item.uid] ?? String(item.uid), to: &json)
        }
        var response = pastAware(json, to: to, context: context)
        if let next { response.setHeader("Link", "<\(context.link(cursor: String(next)))>; rel=\"next\"") }
        return response
    }

    /// Reads batches until `limit` connections pass `keep` or the window is exhausted;
    /// stops early after 50,000 rows scanned and hands back a cursor to go on.
    static func collect(
        reader: HistoryReader, from: Double, to: Double, after: Int64, limit: Int,
        keep: (HistoricConnection) -> Bool
    ) throws -> ([HistoricConnection], Int64?) {
        var items: [HistoricConnection] = []
        var position = after
        var scanned = 0
        while true {
            let batch = try reader.connections(from: from, to: to, after: position, limit: 1000)
            for connection in batch {
                position = connection.id
                if keep(connection) {
                    items.append(connection)
                    if items.count == limit { return (items, position) }
                }
            }
            scanned += batch.count
            if batch.count < 1000 { return (items, nil) }
            if scanned >= 50_000 { return (items, position) }
        }
    }

    /// `GET /api/v1/history/ports/{port}`: who listened on the port and who used it, over time.
    static func port(_ context: RouteContext) throws -> HTTPResponse {
        try context.query.rejectUnknown(["from", "to", "proto", "netns"])
        let history = try access(context)
        let port = try context.portParameter()
        var filter = try ConnectionFilter(query: context.query)
        filter.port = port
        let (from, to) = try window(context)
        let newest = context.live.newest
        if let newest { try filter.namespaceInodes(in: newest, inodesOfThePast: true) }
        let names = newest?.userNames ?? [:]
        let (items, next) = try history.readers.withReader { reader in
            try collect(reader: reader, from: from, to: to, after: 0, limit: 10_000) { connection in
                filter.matches(HistoryJSON.socket(connection, at: connection.firstSeen), userName: { names[$0] ?? String($0) }, names: newest)
            }
        }
        var json = JSONWriter(capacity: 1024 + items.count * 400)
        json.beginObject()
        json.key("port"); json.number(port)
        json.key("from"); json.string(Timestamp.rfc3339(from))
        json.key("to"); json.string(Timestamp.rfc3339(to))
        let listens: (HistoricConnection) -> Bool = { c in
            c.local.port == port && c.states.contains { $0.state == (c.proto == .tcp ? .listen : .close) }
        }
        json.key("listeners"); json.beginArray()
        for item in items where listens(item) { HistoryJSON.connection(item, user: names[item.uid] ?? String(item.uid), to: &json) }
        json.endArray()
        json.key("connections"); json.beginArray()
        for item in items where !listens(item) { HistoryJSON.connection(item, user: names[item.uid] ?? String(item.uid), to: &json) }
        json.endArray()
        json.key("truncated"); json.bool(next != nil)
        json.endObject()
        return pastAware(json, to: to, context: context)
    }

    /// `GET /api/v1/history/states?from=&to=&step=`: mean state counts per bucket.
    static func states(_ context: RouteContext) throws -> HTTPResponse {
        try context.query.rejectUnknown(["from", "to", "step", "proto", "group_by"])
        let history = try access(context)
        let (requestedFrom, to) = try window(context)
        let step = try step(context, from: requestedFrom, to: to)
        // Buckets start at multiples of `step` since the epoch, so two clients asking
        // at different moments get the same buckets.
        let from = aligned(requestedFrom, step: step)
        let filter = try ConnectionFilter(query: context.query)
        var grouping: StateGrouping?
        if let text = try context.query.string("group_by") {
            guard let chosen = StateGrouping(rawValue: text) else {
                throw Problem.badParameter("group_by", text, accepts: "local_port, remote_addr or process")
            }
            // Grouped counts up to a day come from the connection rows (counts as each
            // bucket's last sample had them), longer ones from hourly rollups (means).
            guard (to - from) / step <= 2000 else {
                throw Problem.badParameter("group_by", text, accepts: "at most 2,000 points (narrow from/to or raise step)")
            }
            grouping = chosen
        }
        let series: StateHistory.Series
        do {
            series = try StateHistory.series(history.readers, from: from, to: to, step: step, grouping: grouping, protocols: filter.protocols)
        } catch let error as StateHistory.TooManyConnections {
            throw Problem.badParameter("group_by", grouping?.rawValue ?? "", accepts: "a window holding at most \(error.limit) connections (narrow from/to)")
        } catch let error as StateHistory.StepTooShort {
            throw Problem.badParameter("step", try context.query.string("step") ?? String(step),
                                       accepts: "with group_by over more than a day (or older than the raw rows), a step of at least \(Int(error.minimum))s: those come from hourly counts")
        }
        let groups = series.groups, buckets = series.buckets, tier = series.tier
        var json = JSONWriter(capacity: 256 + buckets.count * 120)
        json.beginObject()
        json.key("from"); json.string(Timestamp.rfc3339(from))
        json.key("to"); json.string(Timestamp.rfc3339(to))
        json.key("step_seconds"); json.number(step)
        json.key("tier"); json.string(tier)
        json.key("group_by"); if let grouping { json.string(grouping.rawValue) } else { json.null() }
        json.key("series"); json.beginArray()
        for bucket in buckets {
            json.beginObject()
            json.key("at"); json.string(Timestamp.rfc3339(bucket.start))
            if grouping != nil {
                let index = Int(((bucket.start - from) / step).rounded())
                json.key("groups"); json.beginObject()
                for (key, protos) in (groups[index] ?? [:]).sorted(by: { $0.key < $1.key }) {
                    json.key(key); json.beginObject()
                    for (proto, states) in protos.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
                        json.key(proto.rawValue); json.beginObject()
                        for (state, count) in states.sorted(by: { $0.key < $1.key }) { json.key(state); json.number(count) }
                        json.endObject()
                    }
                    json.endObject()
                }
                json.endObject()
            }
            json.key("counts"); json.beginObject()
            for proto in [TransportProtocol.tcp, .udp] where filter.protocols?.contains(proto) ?? true {
                let entries = bucket.counts.filter { $0.key.proto == proto }
                    .map { ($0.key.state.name(for: proto), $0.value) }.sorted { $0.0 < $1.0 }
                json.key(proto.rawValue); json.beginObject()
                for (state, value) in entries { json.key(state); json.number((value * 100).rounded() / 100) }
                json.endObject()
            }
            json.endObject()
            json.endObject()
        }
        json.endArray()
        json.endObject()
        return pastAware(json, to: to, context: context)
    }

    /// `GET /api/v1/history/samples?from=&to=`: the samples taken, their cost, and gaps.
    static func samples(_ context: RouteContext) throws -> HTTPResponse {
        try context.query.rejectUnknown(["from", "to", "limit"])
        let history = try access(context)
        let (from, to) = try window(context)
        let limit = try context.query.integer("limit", in: 1...100_000) ?? 10_000
        let samples = try history.readers.withReader { try $0.samples(from: from, to: to, limit: limit) }
        let gaps = SampleGap.find(in: samples)
        let json = ListEnvelope.write(samples, about: .window(from: from, to: to), bytesPerItem: 150, trailing: { json in
            json.key("gaps"); json.beginArray()
            for gap in gaps {
                json.beginObject()
                json.key("from"); json.string(Timestamp.rfc3339(gap.from))
                json.key("to"); json.string(Timestamp.rfc3339(gap.to))
                json.key("seconds"); json.number((gap.to - gap.from).rounded())
                json.key("reason"); json.string(gap.reason.rawValue)
                json.endObject()
            }
            json.endArray()
        }) { sample, json in
            json.beginObject()
            json.key("taken_at"); json.string(Timestamp.rfc3339(sample.takenAt))
            json.key("run"); json.number(sample.runID)
            json.key("duration_ms"); json.number((sample.durationMs * 1000).rounded() / 1000)
            json.key("sockets"); json.number(sample.sockets)
            json.key("problems"); json.bool(sample.problems)
            json.key("missed_slots"); json.number(sample.missedSlots)
            json.key("close_events"); json.number(sample.closeEvents)
            json.key("close_events_overflows"); json.number(sample.closeOverflows)
            json.endObject()
        }
        return pastAware(json, to: to, context: context)
    }

    /// `GET /api/v1/events?after=CURSOR`: what changed, oldest first, as NDJSON. Each
    /// line carries its cursor; resume with the last one read (also in `X-Next-Cursor`).
    static func events(_ context: RouteContext) throws -> HTTPResponse {
        try context.query.rejectUnknown(["after", "limit"])
        let history = try access(context)
        var cursor = EventCursor.start
        if let text = try context.query.string("after"), text != "start" {
            guard let parsed = EventCursor(text: text) else {
                throw Problem.badParameter("after", text, accepts: "`start`, or the cursor of the last event read, unchanged")
            }
            cursor = parsed
        }
        let limit = try context.query.integer("limit", in: 1...10_000) ?? 1000
        let names = context.live.newest?.userNames ?? [:]
        let events = try history.readers.withReader { try $0.events(after: cursor, limit: limit) }
        // The exporter (--export-url) sends these same lines, through the same writer.
        let out = EventLine.ndjson(events, userNames: names)
        let next = events.last?.cursor ?? cursor
        return HTTPResponse(status: 200, headers: [("Content-Type", "application/x-ndjson"), ("X-Next-Cursor", next.text)], body: out)
    }
}

extension HistoryRoutes {
    static let defaultCounters = ["Tcp.InSegs", "Tcp.OutSegs", "Tcp.RetransSegs", "Tcp.AttemptFails", "Tcp.EstabResets",
                                  "Tcp.OutRsts", "TcpExt.ListenOverflows", "TcpExt.ListenDrops", "Udp.RcvbufErrors"]
    static let defaultInterfaceCounters = ["rx_bytes", "tx_bytes", "rx_errs", "tx_errs", "rx_drop", "tx_drop"]

    /// The start of the step-wide bucket holding `time` (a multiple of `step` since the epoch).
    static func aligned(_ time: Double, step: Double) -> Double {
        (time / step).rounded(.down) * step
    }

    /// The step for a window: given, or about 300 points; 400 when it would give over 20,000.
    static func step(_ context: RouteContext, from: Double, to: Double) throws -> Double {
        let step = try context.query.duration("step") ?? max(1, ((to - from) / 300).rounded(.up))
        if (to - from) / step > 20_000 {
            throw Problem.badParameter("step", try context.query.string("step") ?? "", accepts: "a step giving at most 20,000 points over the window: at least \(Int(((to - from) / 20_000).rounded(.up)))s here")
        }
        return step
    }

    /// `GET /api/v1/history/protocols?counter=Tcp.RetransSegs&step=5m`: counter rates over time.
    static func protocols(_ context: RouteContext) throws -> HTTPResponse {
        try context.query.rejectUnknown(["from", "to", "step", "counter"])
        let history = try access(context)
        let (requestedFrom, to) = try window(context)
        let step = try step(context, from: requestedFrom, to: to)
        let from = aligned(requestedFrom, step: step)
        let requested = context.query.list("counter")
        let names = requested.isEmpty ? defaultCounters : requested
        let series = try history.readers.withReader { reader -> [CounterKey: [CounterPoint]] in
            let known = Set(try reader.counterKeys().compactMap { key -> String? in
                if case .protocolCounter = key { return key.storageName } else { return nil }
            })
            for name in requested where !known.contains(name) {
                let live = context.stats.current(maxAge: 60).now.byKey
                let hint = live[name] == nil ? "" : " (the kernel has it, but no sample recorded it yet)"
                let suggestions = Suggestions.nearest(name, in: known)
                throw Problem.badParameter("counter", name, accepts: "recorded counters as Group.Name, e.g. \(suggestions.joined(separator: ", "))\(hint)")
            }
            return try reader.counterSeries(names.filter { known.contains($0) }.compactMap { CounterKey(storageName: $0) },
                                            from: from, to: to, step: step)
        }
        var json = JSONWriter(capacity: 1024 + series.values.reduce(0) { $0 + $1.count } * 80)
        json.beginObject()
        json.key("from"); json.string(Timestamp.rfc3339(from))
        json.key("to"); json.string(Timestamp.rfc3339(to))
        json.key("step_seconds"); json.number(step)
        json.key("series"); json.beginObject()
        for name in names.sorted() {
            guard let key = CounterKey(storageName: name) else { continue }
            json.key(name); writePoints(series[key] ?? [], of: key, to: &json)
        }
        json.endObject()
        json.endObject()
        return pastAware(json, to: to, context: context)
    }

    /// `GET /api/v1/history/interfaces?name=eth0&counter=rx_bytes`: interface counter rates over time.
    static func interfaces(_ context: RouteContext) throws -> HTTPResponse {
        try context.query.rejectUnknown(["from", "to", "step", "name", "counter"])
        let history = try access(context)
        let (requestedFrom, to) = try window(context)
        let step = try step(context, from: requestedFrom, to: to)
        let from = aligned(requestedFrom, step: step)
        let fields = context.query.list("counter").isEmpty ? defaultInterfaceCounters : context.query.list("counter")
        let (names, series) = try history.readers.withReader { reader -> ([String], [CounterKey: [CounterPoint]]) in
            var interfaces = Set<String>(), knownFields = Set<String>()
            for key in try reader.counterKeys() {
                guard case let .interface(interface, field) = key else { continue }
                interfaces.insert(interface)
                knownFields.insert(field)
            }
            for name in context.query.list("name") where !interfaces.contains(name) {
                throw Problem.badParameter("name", name, accepts: "a recorded interface: \(interfaces.sorted().joined(separator: ", "))")
            }
            for field in fields where !knownFields.contains(field) {
                throw Problem.badParameter("counter", field, accepts: "an interface counter: \(knownFields.sorted().joined(separator: ", "))")
            }
            let wanted = context.query.list("name").isEmpty ? interfaces.sorted() : context.query.list("name")
            let keys = wanted.flatMap { interface in fields.map { CounterKey.interface(name: interface, field: $0) } }
            return (wanted, try reader.counterSeries(keys, from: from, to: to, step: step))
        }
        var json = JSONWriter(capacity: 4096)
        json.beginObject()
        json.key("from"); json.string(Timestamp.rfc3339(from))
        json.key("to"); json.string(Timestamp.rfc3339(to))
        json.key("step_seconds"); json.number(step)
        json.key("series"); json.beginObject()
        for interface in names {
            json.key(interface); json.beginObject()
            for field in fields {
                json.key(field); let key = CounterKey.interface(name: interface, field: field)
                writePoints(series[key] ?? [], of: key, to: &json)
            }
            json.endObject()
        }
        json.endObject()
        json.endObject()
        return pastAware(json, to: to, context: context)
    }

    static func writePoints(_ points: [CounterPoint], of key: CounterKey, to json: inout JSONWriter) {
        json.beginArray()
        for point in points {
            json.beginObject()
            json.key("at"); json.string(Timestamp.rfc3339(point.at))
            json.key("value"); json.counterValue(point.value, of: key)
            json.key("rate"); if let rate = point.rate { json.number((rate * 1000).rounded() / 1000) } else { json.null() }
            json.key("resets"); json.number(point.resets)
            json.endObject()
        }
        json.endArray()
    }
}
