import Glibc
import HTTP
import Rendering
import Sampling
import Service
import Store

/// `/healthz`, `/api/v1/status` and `/openapi.yaml`.
enum MetaRoutes {
    /// 200 when sampling works, 503 (with the reason) when it does not.
    static func health(_ context: RouteContext) throws -> HTTPResponse {
        let snapshot = context.live.current(maxAge: max(2, context.configuration.maxSnapshotAge))
        let problems = snapshot.problems
        var reasons: [String] = []
        if problems.socketTablesUnreadable.count >= 4 {
            reasons.append("no socket table could be read: \(problems.socketTablesUnreadable.joined(separator: "; "))")
        }
        let failing = !reasons.isEmpty
        // History that cannot be written degrades the service but sampling still works.
        if let error = context.history?.status.current.lastError {
            reasons.append("history is not being written: \(error)")
        }
        if let damage = context.history?.status.current.damage {
            reasons.append("the history file is damaged (\(damage)); live data is still served. Stop netstatd, move the file away or recover it with `sqlite3 FILE .recover`")
        }
        var json = JSONWriter(capacity: 256)
        json.beginObject()
        json.key("status"); json.string(failing ? "failing" : reasons.isEmpty ? "ok" : "degraded")
        json.key("taken_at"); json.string(Timestamp.rfc3339(snapshot.takenAt))
        json.key("sockets"); json.number(snapshot.sockets.count)
        json.key("reasons"); json.beginArray()
        for reason in reasons { json.string(reason) }
        json.endArray()
        json.endObject()
        return .json(json, status: failing ? 503 : 200)
    }

    /// Version, uptime, the last sample's time and cost, and what went wrong.
    static func status(_ context: RouteContext) throws -> HTTPResponse {
        try context.query.rejectUnknown([])
        let stats = context.live.samplerStats
        let newest = context.live.newest
        var json = JSONWriter(capacity: 1024)
        json.beginObject()
        json.key("version"); json.string(APIVersion.string)
        json.key("uptime_seconds"); json.number((Clock.monotonicSeconds() - context.startedAt).rounded())
        json.key("samples"); json.number(stats.samples)
        json.key("samples_with_problems"); json.number(stats.samplesWithProblems)
        json.key("last_sample")
        if let newest {
            json.beginObject()
            json.key("taken_at"); json.string(Timestamp.rfc3339(newest.takenAt))
            json.key("duration_ms"); json.number((newest.duration * 1e6).rounded() / 1e3)
            json.key("sockets"); json.number(newest.sockets.count)
            json.key("source"); json.string(newest.source.rawValue)
            json.key("problems"); SnapshotJSON.problems(newest.problems, to: &json)
            json.endObject()
        } else {
            json.null()
        }
        json.key("auth"); json.bool(context.configuration.token != nil)
        json.key("capabilities"); CapabilitiesJSON.write(context.configuration.capabilities, to: &json)
        json.key("history")
        if let history = context.history {
            let writer = history.status.current
            json.beginObject()
            json.key("path"); json.string(history.path)
            json.key("size_bytes"); json.number(fileSize(history.path) + fileSize(history.path + "-wal"))
            let figures = try? history.readers.withReader { try $0.figures() }
            json.key("samples"); json.number(figures?.samples ?? 0)
            json.key("connections"); json.number(figures?.connections ?? 0)
            json.key("oldest")
            if let oldest = figures?.oldest { json.string(Timestamp.rfc3339(oldest)) } else { json.null() }
            json.key("written"); json.number(writer.written)
            json.key("failed"); json.number(writer.failed)
            json.key("last_error")
            if let error = writer.lastError { json.string(error) } else { json.null() }
            json.key("last_write_ms")
            if let seconds = writer.lastWriteSeconds { json.number((seconds * 1e6).rounded() / 1e3) } else { json.null() }
            json.key("writer_lag_seconds")
            if let at = writer.lastWrittenAt { json.number(((Clock.wallSeconds() - at) * 10).rounded() / 10) } else { json.null() }
            json.key("close_events")
            if let reader = history.closeEvents {
                let events = reader.statistics
                json.beginObject()
                json.key("running"); json.bool(events.running)
                json.key("unavailable"); if let reason = events.unavailable { json.string(reason) } else { json.null() }
                json.key("received"); json.number(events.received)
                json.key("overflows"); json.number(events.overflows)
                json.key("dropped"); json.number(events.dropped + writer.closeEventsDropped)
                json.key("receive_buffer_bytes"); json.number(events.receiveBufferBytes)
                json.key("namespaces"); json.number(events.namespaces)
                json.key("by_namespace")
                json.beginArray()
                for figures in events.byNamespace {
                    json.beginObject()
                    json.key("inode"); if let inode = figures.inode { json.number(inode) } else { json.null() }
                    json.key("name"); if let name = figures.name { json.string(name) } else { json.null() }
                    json.key("received"); json.number(figures.received)
                    json.key("overflows"); json.number(figures.overflows)
                    json.key("receive_buffer_bytes"); json.number(figures.receiveBufferBytes)
                    json.endObject()
                }
                json.endArray()
                json.key("namespaces_not_followed")
                json.beginArray()
                for unread in events.notFollowed {
                    json.beginObject()
                    json.key("inode"); json.number(unread.inode)
                    json.key("name"); if let name = unread.name { json.string(name) } else { json.null() }
                    json.key("reason"); json.string(unread.reason)
                    json.endObject()
                }
                json.endArray()
                json.endObject()
            } else {
                json.null()
            }
            json.endObject()
        } else {
            json.null()
        }
        json.key("exports"); ExportJSON.write(context.history?.exporters ?? [], to: &json)
        json.endObject()
        return .json(json)
    }

    /// The API contract.
    static func openAPI(_ context: RouteContext) throws -> HTTPResponse {
        HTTPResponse(status: 200, contentType: "application/yaml", body: Array(context.configuration.openAPIDocument.utf8))
    }
}

/// The size of a file in bytes, 0 when it does not exist.
func fileSize(_ path: String) -> Int64 {
    var info = stat()
    return stat(path, &info) == 0 ? Int64(info.st_size) : 0
}
